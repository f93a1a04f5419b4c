import { describe, expect, it, afterAll } from 'vitest';
import { explain, type ModelRuntime } from '../../models/runtime.js';
import { isPdmError } from '../../protocol/errors.js';

export interface RuntimeFixture {
  runtime: ModelRuntime;
  /** Feature vectors like the training data (should mostly score under threshold). */
  normal: number[][];
}

/** The shared suite every ModelRuntime implementation must pass (DESIGN convention 2). */
export function modelRuntimeContract(name: string, make: () => Promise<RuntimeFixture>): void {
  describe(`ModelRuntime contract: ${name}`, () => {
    let fixture: RuntimeFixture | undefined;
    const get = async (): Promise<RuntimeFixture> => (fixture ??= await make());
    afterAll(async () => fixture?.runtime.close());

    it('exposes a card whose feature list sizes the input', async () => {
      const { runtime, normal } = await get();
      expect(runtime.card.features.names.length).toBe(normal[0]!.length);
      expect(runtime.card.threshold.value).toBeGreaterThan(0);
    });

    it('scores one result per row, with one contribution per feature', async () => {
      const { runtime, normal } = await get();
      const scores = await runtime.score(normal.slice(0, 5));
      expect(scores).toHaveLength(5);
      for (const s of scores) {
        expect(Number.isFinite(s.score)).toBe(true);
        expect(s.threshold).toBe(runtime.card.threshold.value);
        expect(s.contributions).toHaveLength(runtime.card.features.names.length);
      }
      expect(await runtime.score([])).toEqual([]);
    });

    it('keeps normal data under the threshold and flags a shifted feature, explaining it first', async () => {
      const { runtime, normal } = await get();
      const scores = await runtime.score(normal);
      const over = scores.filter((s) => s.score >= s.threshold).length;
      expect(over / scores.length).toBeLessThan(0.05);
      const shifted = [...normal[0]!];
      const scale = runtime.card.normalisation.scale[1]!;
      shifted[1] = shifted[1]! + 12 * scale;
      const [bad] = await runtime.score([shifted]);
      expect(bad!.score).toBeGreaterThan(bad!.threshold);
      const top = explain(runtime.card, bad!, 2);
      expect(top[0]!.feature).toBe(runtime.card.features.names[1]);
      expect(top[0]!.share).toBeGreaterThan(0.3);
    });

    it('is deterministic for the same input', async () => {
      const { runtime, normal } = await get();
      expect(await runtime.score(normal.slice(0, 3))).toEqual(await runtime.score(normal.slice(0, 3)));
    });

    it('rejects rows of the wrong width or with non-finite values, naming what is wrong', async () => {
      const { runtime, normal } = await get();
      const names = runtime.card.features.names;
      await expect(runtime.score([normal[0]!.slice(1)])).rejects.toThrow(
        new RegExp(`row 0 has ${names.length - 1} values`),
      );
      const withNaN = [...normal[0]!];
      withNaN[2] = NaN;
      const error = await runtime.score([normal[0]!, withNaN]).catch((e: unknown) => e);
      expect(isPdmError(error, 'PDM_ERR_MODEL_INPUT')).toBe(true);
      expect((error as Error).message).toContain(`row 1 feature "${names[2]}" is NaN`);
    });
  });
}
