import { describe, expect, it } from 'vitest';
import { binIndex } from '../../models/distribution.js';
import { BinnedWindow } from '../../hub/drift/window.js';

describe('bucketed bin counts (hub/drift/window.ts)', () => {
  it('always equals a recount of the values whose bucket is inside the window (running sums, expiry, gaps)', () => {
    const edges = [
      [0.2, 0.5, 0.8],
      [10, 20],
    ];
    const bucketMs = 1000;
    const buckets = 5;
    const window = new BinnedWindow(edges, bucketMs, buckets);
    const seen: Array<{ at: number; values: Array<number | undefined> }> = [];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let t = 0;
    for (let i = 0; i < 3000; i++) {
      t += next() < 0.02 ? 7000 : Math.floor(next() * 300); // mostly dense, sometimes a gap longer than the window
      const values = [next(), next() < 0.1 ? undefined : next() * 30];
      window.add(values, t);
      seen.push({ at: t, values });
      if (i % 97 === 0 || i === 2999) {
        const newest = Math.floor(t / bucketMs);
        const live = seen.filter((s) => Math.floor(s.at / bucketMs) > newest - buckets);
        const expected = edges.map((e, s) => {
          const c = new Array<number>(e.length + 1).fill(0);
          for (const m of live) if (m.values[s] !== undefined) c[binIndex(e, m.values[s]!)]! += 1;
          return c;
        });
        const totals = window.totals(t);
        expect(totals.messages).toBe(live.length);
        expect(totals.counts.map((c) => Array.from(c))).toEqual(expected);
        expect(totals.samples).toEqual(expected.map((c) => c.reduce((a, b) => a + b, 0)));
      }
    }
  });

  it('drops a value older than the window and counts nothing once the window has passed', () => {
    const window = new BinnedWindow([[1]], 1000, 3);
    window.add([0], 10_000);
    window.add([2], 6_000); // bucket 6 is older than buckets 8-10
    expect(window.totals(10_000).messages).toBe(1);
    expect(window.totals(13_000)).toMatchObject({ messages: 0, samples: [0] });
  });
});
