import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import { trainDefaultPca } from '../../models/train-default.js';
import { OnnxModelRuntime, explain } from '../../models/runtime.js';

const MODELS = resolve(fileURLToPath(new URL('../../models/default', import.meta.url)));
const card = (id: string): string => join(MODELS, `${id}.card.json`);

describe('shipped default models (models/default, made by `npm run train`)', () => {
  const runtimes: OnnxModelRuntime[] = [];
  afterAll(async () => Promise.all(runtimes.map((r) => r.close())));

  it('reproduces the shipped PCA ONNX file bit for bit from the simulator with the recorded seed', async () => {
    const shipped = (await OnnxModelRuntime.load(card('pump-vibration-pca'))).card;
    const data = defaultTrainingData(shipped.training.seed!, 300);
    expect(trainDefaultPca(data, new Date()).artifact.card.onnx.sha256).toBe(shipped.onnx.sha256);
  });

  for (const id of ['pump-vibration-pca', 'pump-vibration-ae']) {
    it(`${id}: loads with verified hashes, passes healthy windows and flags the faulty ones, naming vibration features`, async () => {
      const runtime = await OnnxModelRuntime.load(card(id));
      runtimes.push(runtime);
      const check = defaultTrainingData(7, 60).check; // a different seed than training
      const scores = await runtime.score(check.rows);
      const healthy = scores.filter((_, i) => !check.faulty[i]);
      const faulty = scores.filter((_, i) => check.faulty[i]);
      expect(healthy.filter((s) => s.score >= s.threshold).length).toBeLessThanOrEqual(3);
      expect(faulty.filter((s) => s.score >= s.threshold).length).toBeGreaterThanOrEqual(faulty.length - 3);
      const top = explain(runtime.card, faulty[30]!, 3);
      expect(top).toHaveLength(3);
      expect(top[0]!.feature).toMatch(/^vibration\./);
    });
  }
});
