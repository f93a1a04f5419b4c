import { describe, expect, it } from 'vitest';
import { EpisodeDecider } from '../../agent/decision.js';
import { rms } from '../../agent/features.js';
import { Windower, type Window } from '../../agent/windowing.js';

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

  it('grades severity by the critical ratio', () => {
    const decider = new EpisodeDecider(policy);
    decider.next(3);
    expect(decider.next(3)).toEqual({ kind: 'anomaly', severity: 'critical', peak: 3 });
    expect(new EpisodeDecider(policy).severityOf(1.5)).toBe('warning');
  });
});

describe('windowing and RMS', () => {
  it('cuts back-to-back windows with the right times and RMS', () => {
    const windows: Array<{ start: number; end: number; rms: number }> = [];
    const windower = new Windower('v', 1, (w: Window) => windows.push({ start: w.start, end: w.end, rms: rms(w.samples) }));
    const block = (t0: number, value: number) => ({ t0, rateHz: 10, channels: { v: new Float64Array(5).fill(value) } });
    windower.push(block(1000, 2));
    windower.push(block(1500, 2));
    windower.push(block(2000, 3));
    windower.push(block(2500, -3));
    expect(windows).toEqual([
      { start: 1000, end: 2000, rms: 2 },
      { start: 2000, end: 3000, rms: 3 },
    ]);
  });

  it('counts non-finite samples and keeps them out of the features', () => {
    let last = NaN;
    const windower = new Windower('v', 1, (w) => (last = rms(w.samples)), 100);
    windower.push({ t0: 0, rateHz: 4, channels: { v: new Float64Array([1, NaN, Infinity, 1]) } });
    expect(windower.badSamples).toBe(2);
    expect(last).toBe(1);
  });

  it('ignores blocks without its channel', () => {
    let count = 0;
    const windower = new Windower('v', 1, () => count++);
    windower.push({ t0: 0, rateHz: 1, channels: { other: new Float64Array([1]) } });
    expect(count).toBe(0);
  });
});
