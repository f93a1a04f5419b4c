import { describe, expect, it } from 'vitest';
import { EpisodeDecider, labelScores } from '../../models/decision.js';
import { computeFeatures, rollingMean } from '../../models/features.js';

describe('labelScores (episode semantics on a score stream)', () => {
  it('opens after openAfter scores in a row at or over threshold and closes after clearAfter under it', () => {
    const scores = [0, 1, 0, 1, 1, 0.5, 1, 0.5, 0.5, 0];
    // opens at index 4 (second in a row); one low score (5) is not enough to close; 7 and 8 close it at 8.
    expect(labelScores(scores, { threshold: 1, openAfter: 2, clearAfter: 2, clearRatio: 1 })).toEqual([
      0, 0, 0, 0, 1, 1, 1, 1, 0, 0,
    ]);
  });

  it('uses threshold x clearRatio for closing (hysteresis)', () => {
    const scores = [2, 0.9, 0.9, 0.5];
    expect(labelScores(scores, { threshold: 1, openAfter: 1, clearAfter: 1, clearRatio: 0.8 })).toEqual([1, 1, 1, 0]);
  });
});

describe('causal smoothing', () => {
  it('averages the last n rows, fewer at the start, never a later row', () => {
    expect(rollingMean([[1], [3], [5], [7]], 2)).toEqual([[1], [2], [4], [6]]);
    expect(
      computeFeatures(
        [
          [1, 10],
          [3, 30],
        ],
        { smooth: 1 },
      ),
    ).toEqual([
      [1, 10],
      [3, 30],
    ]);
    expect(() => rollingMean([[1]], 0)).toThrow(/positive integer/);
  });
});

describe('relative clear, re-arm bar and hold-off (optional parts of the decision)', () => {
  const base = { threshold: 1, openAfter: 1, clearAfter: 2, clearRatio: 1 };

  it('ends an episode once the score has stayed under peakClearRatio x its peak, though still over the threshold', () => {
    // Peak 100; 2.5 is over the threshold but under 3 % of the peak, so two such rows close the episode.
    const scores = [100, 50, 2.5, 2.5, 2.5];
    expect(labelScores(scores, { ...base, peakClearRatio: 0.03 })).toEqual([1, 1, 1, 0, 0]);
    // Without the relative rule the alarm stays on for as long as the new operating point lasts.
    expect(labelScores(scores, base)).toEqual([1, 1, 1, 1, 1]);
  });

  it('does not reopen on the settled level: a new episode needs a score over the re-arm bar (3 % of the old peak)', () => {
    const p = { ...base, peakClearRatio: 0.03 };
    expect(labelScores([100, 2.5, 2.5, 2.5, 2.5, 4, 4], p)).toEqual([1, 1, 0, 0, 0, 1, 1]);
  });

  it('lets the re-arm bar decay, halving every rearmHalfLife windows, so a lasting offset is raised again', () => {
    // Bar 3 (3 % of 100) after the clear; with a half-life of 1 window it is 1.5, 0.75, ... so 2.5 reopens at once.
    const p = { ...base, peakClearRatio: 0.03, rearmHalfLife: 1 };
    expect(labelScores([100, 2.5, 2.5, 2.5], p)).toEqual([1, 1, 0, 1]);
    // With the default half-life (300 windows) the bar is still about 2.99 two windows later.
    expect(labelScores([100, 2.5, 2.5, 2.5], { ...base, peakClearRatio: 0.03 })).toEqual([1, 1, 0, 0]);
  });

  it('scales the re-arm bar with the threshold in force when the episode ended', () => {
    const decider = new EpisodeDecider({ ...base, criticalRatio: 2, peakClearRatio: 0.5, rearmHalfLife: 1e9 });
    const kinds = [40, 10, 10].map((s) => decider.next(s, 10)?.kind ?? '-');
    expect(kinds).toEqual(['anomaly', '-', 'clear']);
    // Bar = 0.5 x 40 = 20 in scores, i.e. 2 x a threshold of 10; under a new threshold of 5 it is 10 in scores.
    expect(decider.next(12, 5)?.kind).toBe('anomaly');
  });

  it('keeps a new episode from opening during holdOff windows after a clear', () => {
    const p = { ...base, holdOff: 3 };
    expect(labelScores([2, 0, 0, 2, 2, 2, 2], p)).toEqual([1, 1, 0, 0, 0, 0, 1]);
    expect(labelScores([2, 0, 0, 2, 2, 2, 2], base)).toEqual([1, 1, 0, 1, 1, 1, 1]);
  });

  it('rejects settings outside their range, naming the setting', () => {
    const decider = (extra: object) => new EpisodeDecider({ ...base, criticalRatio: 2, ...extra });
    expect(() => decider({ peakClearRatio: 1 })).toThrow(/peakClearRatio must be in \(0, 1\), got 1/);
    expect(() => decider({ peakClearRatio: 0 })).toThrow(/peakClearRatio/);
    expect(() => decider({ rearmHalfLife: 0 })).toThrow(/rearmHalfLife must be a positive number/);
    expect(() => decider({ holdOff: 1.5 })).toThrow(/holdOff must be a whole number/);
    expect(() => decider({ holdOff: -1 })).toThrow(/holdOff/);
  });
});
