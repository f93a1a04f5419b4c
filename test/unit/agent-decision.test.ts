import { describe, expect, it } from 'vitest';
import { EpisodeDecider } from '../../models/decision.js';

const policy = { threshold: 1, criticalRatio: 2, clearRatio: 0.8, openAfter: 2, clearAfter: 3 };

function run(scores: number[]) {
  const decider = new EpisodeDecider(policy);
  return scores.map((s) => decider.next(s)?.kind ?? '-').join(' ');
}

describe('episode decision', () => {
  it('opens one episode after the debounce and clears it after the hysteresis', () => {
    expect(run([0.5, 1.2, 1.3, 1.4, 1.5, 0.9, 0.7, 0.7, 0.7, 0.5])).toBe('- - anomaly - - - - - clear -');
  });

  it('ignores a single spike', () => {
    expect(run([0.5, 5, 0.5, 5, 0.5])).toBe('- - - - -');
  });

  it('does not clear while the score hovers between clear level and threshold', () => {
    expect(run([2, 2, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5])).toBe('- anomaly - - - - - - clear');
  });

  it('opens on N of the last M windows when asked (here 3 of 5), tolerating gaps a strict run would not', () => {
    const nOfM = (scores: number[]) => {
      const decider = new EpisodeDecider({ ...policy, openAfter: 3, openWindow: 5 });
      return scores.map((s) => decider.next(s)?.kind ?? '-').join(' ');
    };
    expect(nOfM([2, 0, 2, 0, 2, 0])).toBe('- - - - anomaly -');
    expect(nOfM([2, 0, 0, 0, 2, 0, 0, 0, 2])).toBe('- - - - - - - - -');
    expect(() => new EpisodeDecider({ ...policy, openAfter: 3, openWindow: 2 })).toThrow(RangeError);
  });

  it('grades severity by the critical ratio', () => {
    const decider = new EpisodeDecider(policy);
    decider.next(3);
    expect(decider.next(3)).toEqual({ kind: 'anomaly', severity: 'critical', peak: 3 });
    expect(new EpisodeDecider(policy).severityOf(1.5)).toBe('warning');
  });
});
