import { MODEL_CARD_SCHEMA, sealCard } from '../card.js';
import type { ModelArtifact } from '../artifacts.js';
import { checkDistribution, checkFeatureNames, onnxCardSection, type ArtifactInput } from './onnx-card.js';
import { AE_IO, autoencoderGraph, exportAutoencoderOnnx } from '../onnx/export-autoencoder.js';
import type { AutoencoderModel } from './autoencoder.js';

export type AeArtifactInput = ArtifactInput<AutoencoderModel>;

export function buildAeArtifact(input: AeArtifactInput): ModelArtifact {
  const { model } = input;
  checkFeatureNames(input.featureNames, model.mean.length);
  if (input.distribution) checkDistribution(input.distribution, input.featureNames);
  const onnx = exportAutoencoderOnnx(model, { model_id: input.id, model_version: input.version });
  const o = model.options;
  const card = sealCard({
    schema: MODEL_CARD_SCHEMA,
    id: input.id,
    version: input.version,
    kind: 'dense-ae',
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    onnx: onnxCardSection(input.id, onnx, autoencoderGraph(model), AE_IO),
    features: { names: input.featureNames, pipeline: { smooth: input.pipeline.smooth, window: model.window } },
    normalisation: { kind: 'standard', mean: model.mean, scale: model.scale },
    threshold: {
      value: 1,
      score: 'MSE(window) / limit',
      rule: `limit = quantile ${o.limitQuantile} of the training windows' reconstruction MSE x ${o.limitFactor}`,
      parameters: { limit: model.limit, limitQuantile: o.limitQuantile, limitFactor: o.limitFactor },
    },
    decision: input.decision,
    training: {
      ...input.training,
      seed: o.seed,
      summary: {
        ...input.training.summary,
        layers: [model.window * model.mean.length, ...model.layers.map((l) => l.outputs)].join('-'),
        epochs: o.epochs,
        finalLoss: Number(model.finalLoss.toFixed(6)),
      },
      ...(input.distribution ? { distribution: input.distribution } : {}),
    },
    metrics: input.metrics ?? {},
  });
  return { card, onnx };
}
