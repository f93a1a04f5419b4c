import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import { readModel } from '../../models/artifacts.js';
import { ModelCard, sealCard } from '../../models/card.js';
import { BinnedDistribution, binIndex, binValues, referenceDistribution } from '../../models/distribution.js';
import { trainDefaultPca } from '../../models/train-default.js';
import { VIBRATION_FEATURES } from '../../models/vibration-features.js';

const MODELS = resolve(fileURLToPath(new URL('../../models/default', import.meta.url)));

describe('reference distributions (models/distribution.ts)', () => {
  it('puts edges at the training quantiles and counts each bin (v <= edge goes to the lower bin)', () => {
    // 1..10 in 5 bins: quantiles 0.2, 0.4, 0.6, 0.8 interpolate to 2.8, 4.6, 6.4, 8.2; two values per bin.
    const d = binValues([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 5);
    expect(d.edges).toEqual([2.8, 4.6, 6.4, 8.2]);
    expect(d.proportions).toEqual([0.2, 0.2, 0.2, 0.2, 0.2]);
    expect([
      binIndex(d.edges, -100),
      binIndex(d.edges, 2.8),
      binIndex(d.edges, 2.81),
      binIndex(d.edges, 8.2),
      binIndex(d.edges, 1e9),
    ]).toEqual([0, 0, 1, 3, 4]);
  });

  it('merges equal quantiles: a constant feature has one bin holding everything, a lumpy one fewer bins', () => {
    expect(binValues([5, 5, 5, 5], 10)).toEqual({ edges: [], proportions: [1] });
    const lumpy = binValues([...new Array<number>(80).fill(0), ...Array.from({ length: 20 }, (_, i) => i + 1)], 10);
    expect(lumpy.edges[0]).toBe(0);
    expect(lumpy.proportions[0]).toBeCloseTo(0.8, 6);
    expect(lumpy.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(BinnedDistribution.safeParse(lumpy).success).toBe(true);
  });

  it('refuses what it cannot bin, naming it', () => {
    expect(() => binValues([], 10, 'feature x')).toThrow(/feature x: no training values/);
    expect(() => binValues([1, Number.NaN], 10, 'score')).toThrow(/score: value 1 is NaN/);
    expect(() => referenceDistribution(['a', 'b'], [[1, 2], [3]], [0.1, 0.2])).toThrow(
      /row 1 has 1 values for 2 feature names/,
    );
  });

  it('the card schema checks the distribution: shares sum to 1, one more share than edges, features the model has', () => {
    expect(BinnedDistribution.safeParse({ edges: [1, 2], proportions: [0.5, 0.5] }).success).toBe(false);
    expect(BinnedDistribution.safeParse({ edges: [2, 1], proportions: [0.3, 0.3, 0.4] }).success).toBe(false);
    expect(BinnedDistribution.safeParse({ edges: [1], proportions: [0.3, 0.3] }).success).toBe(false);
    const shipped = readModel(join(MODELS, 'pump-vibration-pca.card.json')).card;
    const { contentHash: _h, ...rest } = shipped;
    const stray = {
      ...rest,
      training: {
        ...rest.training,
        distribution: {
          ...rest.training.distribution!,
          features: { ...rest.training.distribution!.features, 'temperature.mean': { edges: [], proportions: [1] } },
        },
      },
    };
    const parsed = ModelCard.safeParse(sealCard(stray));
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toMatch(/"temperature.mean", which is not one of features.names/);
    // Leaving the field out is still a valid card with a valid hash (older cards).
    const { distribution: _d, ...training } = rest.training;
    expect(ModelCard.safeParse(sealCard({ ...rest, training })).success).toBe(true);
  });

  it('the shipped cards carry the distribution of their training rows and scores, reproduced from the recorded seed', () => {
    const pca = readModel(join(MODELS, 'pump-vibration-pca.card.json')).card;
    const ae = readModel(join(MODELS, 'pump-vibration-ae.card.json')).card;
    for (const card of [pca, ae]) {
      const d = card.training.distribution!;
      expect(Object.keys(d.features)).toEqual(VIBRATION_FEATURES.map((f) => `vibration.${f}`));
      expect(d.rows).toBe(card.training.rows);
      expect(d.score.edges.length).toBe(9);
    }
    const retrained = trainDefaultPca(defaultTrainingData(pca.training.seed!, 300), new Date()).artifact.card;
    expect(retrained.training.distribution).toEqual(pca.training.distribution);
    expect(retrained.onnx.sha256).toBe(pca.onnx.sha256);
  });
});
