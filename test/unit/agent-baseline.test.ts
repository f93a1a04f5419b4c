import { describe, expect, it } from 'vitest';
import { BaselineDetector, type BaselineState } from '../../agent/baseline.js';
import { SensorHealth } from '../../agent/sensor-health.js';
import type { Window } from '../../agent/windowing.js';

const names = ['a', 'b', 'c'];
const opts = { commissioningWindows: 20, threshold: 5, stdFloorRatio: 0.01, topContributions: 2 };
// Deterministic "noise" so the test never flakes.
const wobble = (i: number): number => Math.sin(i * 12.9898) * 0.1;

describe('BaselineDetector', () => {
  it('learns during commissioning, then scores normal windows low and names the feature that moved', () => {
    let saved: BaselineState | undefined;
    const d = new BaselineDetector(opts, (s) => (saved = s));
    for (let i = 0; i < 20; i++)
      expect(d.score(names, Float64Array.of(1 + wobble(i), 10 + wobble(i + 7), 5 + wobble(i + 3)))).toBeUndefined();
    expect(d.ready).toBe(true);
    expect(saved?.count).toBe(20);
    const normal = d.score(names, Float64Array.of(1, 10, 5))!;
    expect(normal.score).toBeLessThan(2);
    const shifted = d.score(names, Float64Array.of(1, 12, 5))!;
    expect(shifted.score).toBeGreaterThan(opts.threshold);
    expect(shifted.contributions[0]).toMatchObject({ feature: 'b', value: 12 });
    expect(shifted.contributions[0]!.share).toBeGreaterThan(0.9);
    expect(shifted.contributions).toHaveLength(2);
  });

  it('restores a saved baseline and scores at once, without commissioning again', () => {
    const first = new BaselineDetector(opts);
    for (let i = 0; i < 20; i++)
      first.score(names, Float64Array.of(1 + wobble(i), 10 + wobble(i + 1), 5 + wobble(i + 2)));
    const again = new BaselineDetector(opts, undefined, JSON.parse(JSON.stringify(first.state())));
    expect(again.ready).toBe(true);
    expect(again.score(names, Float64Array.of(1, 10, 5))!.score).toBeCloseTo(
      first.score(names, Float64Array.of(1, 10, 5))!.score,
      9,
    );
  });

  it('starts commissioning over when the feature set changes', () => {
    const d = new BaselineDetector(opts);
    for (let i = 0; i < 20; i++) d.score(names, Float64Array.of(1, 2, 3 + wobble(i)));
    expect(d.score(['a', 'b'], Float64Array.of(1, 2))).toBeUndefined();
    expect(d.ready).toBe(false);
  });
});

describe('SensorHealth', () => {
  const win = (over: Partial<Window>): Window => ({
    channel: 'v',
    start: 0,
    end: 1,
    rateHz: 10,
    samples: new Float64Array(10),
    repaired: 0,
    discontinuities: 0,
    ...over,
  });
  const health = () => new SensorHealth({ stuckStd: 1e-9, maxRepairedShare: 0.2, afterWindows: 2 });

  it('calls a flat signal stuck, many repaired samples a NaN storm, a discontinuity a dropout', () => {
    const h = health();
    expect(h.judge(win({}), 0)).toBe('stuck');
    expect(h.judge(win({ repaired: 3 }), 1)).toBe('nan-storm');
    expect(h.judge(win({ discontinuities: 1 }), 1)).toBe('dropout');
    expect(h.judge(win({ repaired: 1 }), 1)).toBe('ok');
  });

  it('changes state only after the verdict repeats (debounce), and reports each change once', () => {
    const h = health();
    expect(h.update('stuck')).toBeUndefined();
    expect(h.update('stuck')).toBe('stuck');
    expect(h.update('stuck')).toBeUndefined();
    expect(h.usable('ok')).toBe(false);
    expect(h.update('ok')).toBeUndefined();
    expect(h.update('ok')).toBe('ok');
    expect(h.usable('ok')).toBe(true);
  });
});
