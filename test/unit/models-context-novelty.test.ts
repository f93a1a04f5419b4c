import { describe, expect, it } from 'vitest';
import {
  CONTEXT_NOVELTY_DEFAULTS,
  ContextNovelty,
  MAX_REPLAY,
  MAX_SLOW_BLOCK,
} from '../../models/detectors/context-novelty.js';
import { ContextScale, ContextTable } from '../../models/detectors/context-table.js';
import {
  DEFAULT_STREAMING_DETECTOR,
  STREAMING_DETECTORS,
  streamingDetectorsNamed,
} from '../../models/detectors/streaming-registry.js';
import { isPdmError } from '../../protocol/errors.js';

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

describe('context-novelty memory', () => {
  it('keeps every table under its cap on a long random stream, and drops the replay buffer after probation', () => {
    const rand = seeded(11);
    const cap = 512;
    const detector = new ContextNovelty({ min: 0, max: 1, probation: 5000 }, { tableCap: cap, bins: 16 });
    expect(detector.footprint().replay).toBe(MAX_REPLAY);
    let peak = 0;
    for (let i = 0; i < 200_000; i++) {
      detector.next(rand());
      if (i % 997 === 0) peak = Math.max(peak, ...detector.footprint().contexts);
    }
    const { contexts, replay } = detector.footprint();
    expect(Math.max(peak, ...contexts)).toBeLessThanOrEqual(cap);
    expect(Math.max(...contexts)).toBeGreaterThan(cap / 4); // the stream did fill the tables: the cap was exercised
    expect(replay).toBe(0);
  });

  it('bounds the slow scale whatever probation the caller passes', () => {
    const scale = (probation: number): number =>
      Math.min(MAX_SLOW_BLOCK, Math.max(2, Math.round(probation * CONTEXT_NOVELTY_DEFAULTS.slowBlock)));
    expect(scale(750)).toBe(15);
    expect(scale(10_000_000)).toBe(MAX_SLOW_BLOCK);
    const detector = new ContextNovelty({ probation: 10_000_000 });
    for (let i = 0; i < 2000; i++) detector.next(Math.sin(i));
    expect(detector.footprint().replay).toBe(0); // no range given: nothing to replay
  });

  it('forgets the least recently seen half of a full table', () => {
    const table = new ContextTable(4, 10);
    for (const key of [1, 2, 3, 4]) expect(table.visit(key)).toBe(true);
    expect(table.visit(1)).toBe(false); // 1 is now the most recent
    expect(table.visit(5)).toBe(true); // over the cap: 2 and 3 (oldest) go
    expect(table.size).toBeLessThanOrEqual(4);
    expect(table.visit(1)).toBe(false);
    expect(table.visit(2)).toBe(true);
  });

  it('keeps learned contexts through a widening of the range (symbols merge pairwise)', () => {
    const table = new ContextTable(100, 9);
    const key = (symbols: number[]): number => symbols.reduce((k, s, i) => k + (s + 1) * 9 ** i, 0);
    table.visit(key([6, 7, 2]));
    table.remap((s) => s >> 1);
    expect(table.visit(key([3, 3, 1]))).toBe(false);
    expect(table.visit(key([6, 7, 2]))).toBe(true);
  });

  it('grades novelty by the shortest new context', () => {
    const scale = new ContextScale(8, 4, 1, 1000);
    expect(scale.push(0.05)).toBe(1); // order 1 new (only order available)
    expect(scale.push(0.05)).toBe(0.5); // symbol seen; pair (0, 0) new: 1 of 2 orders
    expect(scale.push(0.05)).toBe(1 / 3); // (0, 0) seen, triple new
    expect(scale.push(0.05)).toBe(1 / 4);
    expect(scale.push(0.05)).toBe(0); // everything seen
    expect(scale.push(0.95)).toBe(1); // a symbol never seen
  });
});

describe('context-novelty behaviour', () => {
  const daily = (i: number, rand: () => number): number => 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + rand();

  it('scores a level shift after probation high, then rests', () => {
    const rand = seeded(5);
    const values = Array.from({ length: 4000 }, (_, i) => daily(i, rand) + (i >= 3000 ? 30 : 0));
    const detector = new ContextNovelty({ min: 39, max: 92, probation: 600 });
    const scores = values.map((v) => detector.next(v));
    const at = scores.findIndex((s, i) => i >= 600 && s >= CONTEXT_NOVELTY_DEFAULTS.restLevel);
    expect(at).toBeGreaterThanOrEqual(3000);
    expect(at).toBeLessThan(3010);
    const rest = Math.round(600 * CONTEXT_NOVELTY_DEFAULTS.rest);
    expect(scores.slice(at + 1, at + 1 + rest).every((s) => s === 0)).toBe(true);
    // Before the shift, after probation, nothing reaches the level a real change reaches.
    expect(Math.max(...scores.slice(600, 3000))).toBeLessThan(scores[at]!);
  });

  it('still resolves the data when the given range is a loose plausibility bound (1000 times wider)', () => {
    const rand = seeded(9);
    const values = Array.from({ length: 4000 }, (_, i) => daily(i, rand) + (i >= 3000 ? 15 : 0));
    const detector = new ContextNovelty({ min: -10_000, max: 40_000, probation: 600 });
    const scores = values.map((v) => detector.next(v));
    const at = scores.findIndex((s, i) => i >= 600 && s >= CONTEXT_NOVELTY_DEFAULTS.restLevel);
    expect(at).toBeGreaterThanOrEqual(3000);
    expect(at).toBeLessThan(3050);
  });

  it('stays in [0, 1] at the limits of a double (the range stops at the largest double)', () => {
    for (const context of [{ probation: 3 }, { min: -1, max: 1, probation: 3 }]) {
      const detector = new ContextNovelty(context);
      for (const v of [1.7e308, -1.7e308, 0, 1.7e308, 5, -1.79e308, 1.79e308, 2, 3]) {
        const s = detector.next(v);
        expect(s >= 0 && s <= 1).toBe(true);
      }
    }
  });

  it('refuses settings outside their meaning with PDM_ERR_CONFIG_INVALID', () => {
    for (const bad of [
      { bins: 1 },
      { orders: 9 },
      { rest: 0 },
      { restLevel: 1.5 },
      { tableCap: 3 },
      { slowBlock: NaN },
    ]) {
      expect(() => new ContextNovelty({ probation: 10 }, bad)).toThrow(/context-novelty/);
    }
    expect(() => new ContextNovelty({ probation: -1 })).toThrow(/probation -1/);
  });
});

describe('streaming detector registry', () => {
  it('names the default, resolves all, and refuses unknown names with the list', () => {
    expect(Object.keys(STREAMING_DETECTORS)).toContain(DEFAULT_STREAMING_DETECTOR);
    expect(streamingDetectorsNamed().map((d) => d.name)).toEqual([DEFAULT_STREAMING_DETECTOR]);
    expect(streamingDetectorsNamed('all').map((d) => d.name)).toEqual(Object.keys(STREAMING_DETECTORS));
    for (const name of ['nope', 'constructor', 'toString']) {
      let caught: unknown;
      try {
        streamingDetectorsNamed(name);
      } catch (error) {
        caught = error;
      }
      expect(isPdmError(caught, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
      expect((caught as Error).message).toMatch(/registered: octave-novelty, context-novelty, ewma-z/);
    }
  });
});
