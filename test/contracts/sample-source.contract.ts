import { afterEach, describe, expect, it } from 'vitest';
import type { SampleBlock, SampleSource } from '../../protocol/samples.js';

export interface SourceUnderTest {
  source: SampleSource;
  /** Makes the source produce blocks after start (e.g. a gateway publishing frames); nothing for self-driven sources. */
  drive?: () => Promise<void>;
  cleanup?: () => Promise<void>;
}

/**
 * The SampleSource contract, shared by every implementation (simulator, replay, sensor gateway, Modbus): blocks are well
 * formed, each rate group's time moves forward, and nothing is delivered once stop() has resolved.
 */
export function sampleSourceContract(name: string, make: () => Promise<SourceUnderTest>): void {
  describe(`SampleSource contract: ${name}`, () => {
    let current: SourceUnderTest | undefined;
    afterEach(async () => {
      await current?.source.stop();
      await current?.cleanup?.();
      current = undefined;
    });

    it('delivers well-formed blocks whose time moves forward within each rate', async () => {
      current = await make();
      const blocks: SampleBlock[] = [];
      await current.source.start((block) => blocks.push(block));
      await current.drive?.();
      await until(() => blocks.length >= 6);
      expect(typeof current.source.name).toBe('string');
      const lastEnd = new Map<number, number>();
      for (const block of blocks) {
        expect(Number.isFinite(block.t0)).toBe(true);
        expect(block.rateHz).toBeGreaterThan(0);
        const arrays = Object.values(block.channels);
        expect(arrays.length).toBeGreaterThan(0);
        for (const a of arrays) {
          expect(a).toBeInstanceOf(Float64Array);
          expect(a.length).toBe(arrays[0]!.length);
        }
        const previous = lastEnd.get(block.rateHz);
        if (previous !== undefined) expect(block.t0).toBeGreaterThanOrEqual(previous - 1e-6);
        lastEnd.set(block.rateHz, block.t0 + (arrays[0]!.length * 1000) / block.rateHz);
      }
    });

    it('delivers nothing after stop() resolves', async () => {
      current = await make();
      let count = 0;
      await current.source.start(() => (count += 1));
      await current.drive?.();
      await until(() => count >= 2);
      await current.source.stop();
      const atStop = count;
      await current.drive?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(count).toBe(atStop);
    });
  });
}

/** Polls until `condition` holds (event-driven sources need a few turns of the event loop); fails after 10 s. */
export async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
