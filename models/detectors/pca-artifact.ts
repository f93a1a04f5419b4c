import { MODEL_CARD_SCHEMA, sealCard } from '../card.js';
import type { ModelArtifact } from '../artifacts.js';
import { checkDistribution, checkFeatureNames, onnxCardSection, type ArtifactInput } from './onnx-card.js';
import { PCA_IO, exportPcaOnnx, pcaGraph } from '../onnx/export-pca.js';
import type { PcaModel } from './pca.js';

export type PcaArtifactInput = ArtifactInput<PcaModel>;

/** Exports the ONNX graph and writes the card that says how to feed it and how its threshold was calibrated. */
export function buildPcaArtifact(input: PcaArtifactInput): ModelArtifact {
  const { model } = input;
  checkFeatureNames(input.featureNames, model.mean.length);
  if (input.distribution) checkDistribution(input.distribution, input.featureNames);
  const onnx = exportPcaOnnx(model, { model_id: input.id, model_version: input.version });
  const card = sealCard({
    schema: MODEL_CARD_SCHEMA,
    id: input.id,
    version: input.version,
    kind: 'pca-t2q',
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    onnx: onnxCardSection(input.id, onnx, pcaGraph(model), PCA_IO),
    features: { names: input.featureNames, pipeline: { smooth: input.pipeline.smooth, window: 1 } },
    normalisation: { kind: 'standard', mean: model.mean, scale: model.scale },
    threshold: {
      value: 1,
      score: 'max(T2 / t2Limit, Q / qLimit)',
      rule: `each limit = quantile ${model.options.limitQuantile} of the statistic over the training rows x ${model.options.limitFactor}`,
      parameters: {
        t2Limit: model.t2Limit,
        qLimit: model.qLimit,
        limitQuantile: model.options.limitQuantile,
        limitFactor: model.options.limitFactor,
        components: model.components.length,
        varianceKept: model.options.varianceKept,
      },
    },
    decision: input.decision,
    training: {
      ...input.training,
      summary: { ...input.training.summary, explainedVariance: Number(model.explainedVariance.toFixed(4)) },
      ...(input.distribution ? { distribution: input.distribution } : {}),
    },
    metrics: input.metrics ?? {},
  });
  return { card, onnx };
}
