import { describe, expect, it } from 'vitest';
import { SensorHealth } from '../../agent/sensor-health.js';
import type { Window } from '../../agent/windowing.js';

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
