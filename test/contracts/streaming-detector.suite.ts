import { describe, expect, it } from 'vitest';
import type { StreamingContext, StreamingDetectorFactory } from '../../models/detectors/streaming.js';
import { isPdmError } from '../../protocol/errors.js';

/** Seeded stream with a daily-like cycle, noise, spikes, a flat stretch and a level shift. */
export function mixedStream(n: number, seed = 7): number[] {
  let s = seed;
  const rand = (): number => (s = (s * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: n }, (_, i) => {
    if (i > 0.4 * n && i < 0.5 * n) return 20; // flat: variance 0 for a while
    const spike = rand() < 0.01 ? 200 * rand() : 0;
    return 10 * Math.sin(i / 20) + rand() + spike + (i > 0.8 * n ? 35 : 0);
  });
}

const run = (make: StreamingDetectorFactory, context: StreamingContext, values: readonly number[]): number[] => {
  const detector = make(context);
  return values.map((v, i) => detector.next(v, 1_400_000_000_000 + i * 300_000));
};

/** What every streaming detector promises, with the context NAB gives (range) and the one an agent may give (none). */
export function streamingDetectorContract(name: string, make: StreamingDetectorFactory): void {
  const values = mixedStream(3000);
  const contexts: Array<[string, StreamingContext]> = [
    ['with the range', { min: Math.min(...values), max: Math.max(...values), probation: 450 }],
    ['without a range', { probation: 450 }],
    ['with a range 100 times too wide', { min: -5000, max: 5000, probation: 450 }],
  ];
  describe(`StreamingDetector contract: ${name}`, () => {
    for (const [label, context] of contexts) {
      it(`scores every row in [0, 1] (${label})`, () => {
        const scores = run(make, context, values);
        expect(scores).toHaveLength(values.length);
        for (const s of scores) {
          expect(Number.isFinite(s)).toBe(true);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
        }
      });

      it(`is causal: changing later rows never changes earlier scores (${label})`, () => {
        const base = run(make, context, values);
        for (const cut of [1, 200, 449, 450, 1500, 2999]) {
          const changed = values.map((v, i) => (i >= cut ? v * 3 + 1000 : v));
          const scores = run(make, context, changed);
          expect(scores.slice(0, cut)).toEqual(base.slice(0, cut));
        }
      });

      it(`is deterministic: two fresh instances give the same scores (${label})`, () => {
        expect(run(make, context, values)).toEqual(run(make, context, values));
      });
    }

    it('refuses NaN and infinite values with PDM_ERR_BAD_SAMPLE', () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const detector = make({ probation: 10 });
        detector.next(1);
        let caught: unknown;
        try {
          detector.next(bad);
        } catch (error) {
          caught = error;
        }
        expect(isPdmError(caught) && caught.code).toBe('PDM_ERR_BAD_SAMPLE');
      }
    });

    it('copes with a constant stream, a single row and extreme magnitudes', () => {
      for (const stream of [new Array(500).fill(3), [42], [1e-300, 1e300, -1e300, 0, 5e299, 3]]) {
        for (const context of [{ probation: 75 }, { min: -1, max: 1, probation: 0 }]) {
          for (const s of run(make, context, stream)) expect(s >= 0 && s <= 1).toBe(true);
        }
      }
    });
  });
}
