import { describe, expect, it } from 'vitest';
import { ContextNovelty } from '../../models/detectors/context-novelty.js';
import { MAX_OCTAVE_MEMBERS, OCTAVE_NOVELTY_DEFAULTS, OctaveNovelty } from '../../models/detectors/octave-novelty.js';
import type { StreamingContext } from '../../models/detectors/streaming.js';
import { isPdmError } from '../../protocol/errors.js';

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/** A daily cycle of 288 rows (5-minute data), uniform noise of width 1, and a level shift of `shift` at row 3000. */
function dailyWithShift(shift: number, seed = 5): number[] {
  const rand = seeded(seed);
  return Array.from(
    { length: 4000 },
    (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + rand() + (i >= 3000 ? shift : 0),
  );
}

const scores = (detector: { next(v: number): number }, values: readonly number[]): number[] =>
  values.map((v) => detector.next(v));

describe('octave-novelty memory', () => {
  it('keeps every member table under its cap on a long random stream, and never buffers a replay', () => {
    const rand = seeded(11);
    const cap = 512;
    const detector = new OctaveNovelty({ min: 0, max: 1, probation: 5000 }, { member: { tableCap: cap } });
    let peak = 0;
    for (let i = 0; i < 200_000; i++) {
      detector.next(rand());
      if (i % 997 === 0) for (const m of detector.footprint()) peak = Math.max(peak, ...m.contexts);
    }
    const footprint = detector.footprint();
    expect(footprint).toHaveLength(OCTAVE_NOVELTY_DEFAULTS.bins.length);
    const now = footprint.flatMap((m) => m.contexts);
    expect(Math.max(peak, ...now)).toBeLessThanOrEqual(cap);
    expect(Math.max(...now)).toBeGreaterThan(cap / 4); // the stream did fill the tables: the cap was exercised
    expect(footprint.every((m) => m.replay === 0)).toBe(true); // no range is passed on, so nothing is replayed
  });
});

describe('octave-novelty behaviour', () => {
  it('is the row-by-row maximum of context-novelty members at 8 and 16 levels, fed without a range', () => {
    const values = dailyWithShift(4);
    const octave = scores(new OctaveNovelty({ min: 40, max: 70, probation: 600 }), values);
    const coarse = scores(new ContextNovelty({ probation: 600 }, { bins: 8 }), values);
    const fine = scores(new ContextNovelty({ probation: 600 }, { bins: 16 }), values);
    expect(octave).toEqual(coarse.map((c, i) => Math.max(c, fine[i]!)));
  });

  it('gives the same scores with the range, without it, and with a range a thousand times too wide', () => {
    const values = dailyWithShift(30);
    const contexts: StreamingContext[] = [
      { min: Math.min(...values), max: Math.max(...values), probation: 600 },
      { probation: 600 },
      { min: -15_000, max: 15_000, probation: 600 },
    ];
    const [first, ...others] = contexts.map((c) => scores(new OctaveNovelty(c), values));
    for (const other of others) expect(other).toEqual(first);
  });

  it('is causal: scores before a change do not depend on what follows it', () => {
    const base = scores(new OctaveNovelty({ probation: 600 }), dailyWithShift(0));
    const shifted = scores(new OctaveNovelty({ probation: 600 }), dailyWithShift(30));
    expect(shifted.slice(0, 3000)).toEqual(base.slice(0, 3000));
    expect(shifted.slice(3000)).not.toEqual(base.slice(3000));
  });

  it('scores a large level shift at once, above everything it scored before it', () => {
    const values = dailyWithShift(30);
    const s = scores(new OctaveNovelty({ probation: 600 }), values);
    expect(s[3000]).toBe(1);
    expect(Math.max(...s.slice(600, 3000))).toBeLessThan(0.9);
  });

  it('catches a shift of under two coarse levels at its first row, where the coarse member alone is late', () => {
    const values = dailyWithShift(4);
    const level = 0.75;
    const first = (s: number[]): number => s.findIndex((x, i) => i >= 3000 && x >= level);
    expect(first(scores(new OctaveNovelty({ probation: 600 }), values))).toBe(3000);
    expect(first(scores(new ContextNovelty({ probation: 600 }, { bins: 8 }), values))).toBeGreaterThan(3100);
  });

  it('refuses resolutions outside their meaning with PDM_ERR_CONFIG_INVALID, naming the detector', () => {
    const tooMany = Array.from({ length: MAX_OCTAVE_MEMBERS + 1 }, (_, i) => 4 << i);
    for (const bins of [[], [8, 8], tooMany, [1, 2]]) {
      let caught: unknown;
      try {
        new OctaveNovelty({ probation: 10 }, { bins });
      } catch (error) {
        caught = error;
      }
      expect(isPdmError(caught, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
      expect((caught as Error).message).toMatch(/octave-novelty|context-novelty: bins 1/);
    }
    expect(() => new OctaveNovelty({ probation: -1 })).toThrow(/probation -1/);
  });
});
