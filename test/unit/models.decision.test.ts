import { describe, expect, it } from 'vitest';
import { labelScores } from '../../models/decision.js';
import { computeFeatures, rollingMean } from '../../models/features.js';

describe('labelScores (episode semantics on a score stream)', () => {
  it('opens after openAfter scores in a row at or over threshold and closes after clearAfter under it', () => {
    const scores = [0, 1, 0, 1, 1, 0.5, 1, 0.5, 0.5, 0];
    // opens at index 4 (second in a row); one low score (5) is not enough to close; 7 and 8 close it at 8.
    expect(labelScores(scores, { threshold: 1, openAfter: 2, clearAfter: 2, clearRatio: 1 })).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
  });

  it('uses threshold x clearRatio for closing (hysteresis)', () => {
    const scores = [2, 0.9, 0.9, 0.5];
    expect(labelScores(scores, { threshold: 1, openAfter: 1, clearAfter: 1, clearRatio: 0.8 })).toEqual([1, 1, 1, 0]);
  });
});

describe('causal smoothing', () => {
  it('averages the last n rows, fewer at the start, never a later row', () => {
    expect(rollingMean([[1], [3], [5], [7]], 2)).toEqual([[1], [2], [4], [6]]);
    expect(computeFeatures([[1, 10], [3, 30]], { smooth: 1 })).toEqual([[1, 10], [3, 30]]);
    expect(() => rollingMean([[1]], 0)).toThrow(/positive integer/);
  });
});
