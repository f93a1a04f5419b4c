import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../protocol/backoff.js';

describe('reconnect backoff', () => {
  it('grows exponentially from the minimum and never exceeds the maximum', () => {
    const top = (attempt: number): number => backoffDelay(attempt, 500, 30_000, () => 0.999999);
    expect(top(0)).toBe(500);
    expect(top(1)).toBe(1000);
    expect(top(3)).toBe(4000);
    expect(top(10)).toBe(30_000);
    expect(top(1000)).toBe(30_000);
  });

  it('is jittered across the whole range, so a fleet does not reconnect in lockstep', () => {
    expect(backoffDelay(5, 500, 30_000, () => 0)).toBe(500);
    expect(backoffDelay(5, 500, 30_000, () => 0.5)).toBe(Math.round(500 + 0.5 * (16_000 - 500)));
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(6, 500, 30_000)));
    expect(draws.size).toBeGreaterThan(10);
    for (const d of draws) expect(d).toBeGreaterThanOrEqual(500);
  });
});
