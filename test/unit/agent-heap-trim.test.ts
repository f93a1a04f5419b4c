import { describe, expect, it } from 'vitest';
import { heapTrimmer } from '../../agent/heap-trim.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('heap trimming', () => {
  it('collects once every N windows, after the window at hand', async () => {
    let collections = 0;
    const afterWindow = heapTrimmer(3, () => (collections += 1))!;
    afterWindow();
    afterWindow();
    await tick();
    expect(collections).toBe(0);
    afterWindow();
    expect(collections).toBe(0); // not inside the window's own work
    await tick();
    expect(collections).toBe(1);
    for (let i = 0; i < 6; i++) afterWindow();
    await tick();
    await tick();
    expect(collections).toBe(3);
  });

  it('is nothing to call without an exposed gc or with a period of 0', () => {
    expect(heapTrimmer(600, undefined)).toBeUndefined();
    expect(heapTrimmer(0, () => undefined)).toBeUndefined();
  });
});
