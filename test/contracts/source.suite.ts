import { afterEach, describe, expect, it } from 'vitest';
import type { SampleBlock, SampleSource } from '../../protocol/samples.js';

export interface SourceHarness {
  /** A fresh source that delivers quickly (a test must not wait seconds for data). */
  create(): SampleSource;
  /** Channels every block must carry. */
  channels: string[];
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** What every sample source promises the agent (DESIGN convention 2): simulator today; replay, MQTT and Modbus later. */
export function sampleSourceContract(name: string, harness: SourceHarness): void {
  describe(`SampleSource contract: ${name}`, () => {
    const started: SampleSource[] = [];
    afterEach(async () => {
      await Promise.all(started.splice(0).map((s) => s.stop()));
    });
    const start = async (onBlock: (b: SampleBlock) => void): Promise<SampleSource> => {
      const source = harness.create();
      started.push(source);
      await source.start(onBlock);
      return source;
    };

    it('has a name', () => {
      expect(harness.create().name).toMatch(/\S/);
    });

    it('delivers blocks with a positive rate, the promised channels and equal-length finite-typed arrays', async () => {
      const blocks: SampleBlock[] = [];
      await start((b) => blocks.push(b));
      await until(() => blocks.length >= 5, '5 blocks');
      for (const block of blocks) {
        expect(block.rateHz).toBeGreaterThan(0);
        expect(Number.isFinite(block.t0)).toBe(true);
        for (const channel of harness.channels) expect(block.channels[channel]).toBeInstanceOf(Float64Array);
        const lengths = new Set(Object.values(block.channels).map((c) => c.length));
        expect(lengths.size).toBe(1);
      }
    });

    it('time runs forward without gaps: each block starts where the previous one ended', async () => {
      const blocks: SampleBlock[] = [];
      await start((b) => blocks.push({ ...b, channels: { ...b.channels } }));
      await until(() => blocks.length >= 10, '10 blocks');
      for (let i = 1; i < blocks.length; i++) {
        const prev = blocks[i - 1]!;
        const length = Object.values(prev.channels)[0]!.length;
        expect(blocks[i]!.t0).toBeCloseTo(prev.t0 + (length * 1000) / prev.rateHz, 6);
      }
    });

    it('delivers nothing once stop() has resolved', async () => {
      let count = 0;
      const source = await start(() => (count += 1));
      await until(() => count >= 2, '2 blocks');
      await source.stop();
      const atStop = count;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(count).toBe(atStop);
    });
  });
}
