import { describe, expect, it } from 'vitest';
import { ChannelWindower, type Window } from '../../agent/windowing.js';
import type { SampleBlock } from '../../protocol/samples.js';

const block = (t0: number, values: number[], rateHz = 100): SampleBlock => ({
  t0,
  rateHz,
  channels: { v: Float64Array.from(values) },
});
const ramp = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

function collect(spec: Partial<ConstructorParameters<typeof ChannelWindower>[0]> = {}) {
  const windows: Array<Omit<Window, 'samples'> & { samples: number[] }> = [];
  const w = new ChannelWindower({ channel: 'v', windowSeconds: 0.1, hopSeconds: 0.1, ...spec }, (win) =>
    windows.push({ ...win, samples: [...win.samples] }),
  );
  return { w, windows };
}

describe('ChannelWindower', () => {
  it('cuts back-to-back windows across block boundaries with their times', () => {
    const { w, windows } = collect();
    w.push(block(0, ramp(0, 15)));
    w.push(block(150, ramp(15, 10)));
    expect(windows.map((x) => x.samples)).toEqual([ramp(0, 10), ramp(10, 10)]);
    expect(windows[1]).toMatchObject({ start: 100, end: 200, rateHz: 100, repaired: 0, discontinuities: 0 });
  });

  it('overlaps windows when the hop is shorter than the window', () => {
    const { w, windows } = collect({ hopSeconds: 0.05 });
    w.push(block(0, ramp(0, 30)));
    expect(windows.map((x) => x.samples[0])).toEqual([0, 5, 10, 15, 20]);
    expect(windows.every((x) => x.samples.length === 10)).toBe(true);
  });

  it('counts NaN, Infinity and out-of-range samples and replaces them with the last good value', () => {
    const { w, windows } = collect({ min: -10, max: 100 });
    w.push(block(0, [1, NaN, 2, Infinity, -Infinity, 3, 500, -20, 4, 5]));
    expect(w.faults).toMatchObject({ nonFinite: 3, outOfRange: 2 });
    expect(windows[0]!.samples).toEqual([1, 1, 2, 2, 2, 3, 3, 3, 4, 5]);
    expect(windows[0]!.repaired).toBe(5);
  });

  it('a gap in time starts a fresh window and is counted; so is a clock going backwards', () => {
    const { w, windows } = collect();
    w.push(block(0, ramp(0, 5)));
    w.push(block(500, ramp(100, 10))); // 450 ms missing
    expect(w.faults.gaps).toBe(1);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.samples).toEqual(ramp(100, 10));
    expect(windows[0]!.discontinuities).toBe(1);
    w.push(block(100, ramp(200, 10))); // the clock jumped back 500 ms
    expect(w.faults.clockBackwards).toBe(1);
    expect(windows[1]!.samples).toEqual(ramp(200, 10));
  });

  it('ignores blocks without its channel, with a bad rate or a bad time, without throwing', () => {
    const { w, windows } = collect();
    w.push({ t0: 0, rateHz: 100, channels: { other: new Float64Array(20) } });
    w.push({ t0: 0, rateHz: NaN, channels: { v: new Float64Array(20) } });
    w.push({ t0: NaN, rateHz: 100, channels: { v: new Float64Array(20) } });
    expect(windows).toHaveLength(0);
  });
});
