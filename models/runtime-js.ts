import type { ModelCard } from './card.js';
import { scorePca, type PcaModel } from './detectors/pca.js';
import { validateBatch, type ModelRuntime, type ModelScore } from './runtime.js';

/**
 * The PCA model scored in plain JS (float64): the reference the ONNX graph is checked against, and a runtime for
 * places without onnxruntime. Not what the agent ships with.
 */
export class PcaJsRuntime implements ModelRuntime {
  constructor(
    readonly card: ModelCard,
    private readonly model: PcaModel,
  ) {
    if (model.mean.length !== card.features.names.length)
      throw new Error(`model has ${model.mean.length} features, card ${card.features.names.length}`);
  }

  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    validateBatch(this.card, batch);
    return batch.map((row) => {
      const s = scorePca(this.model, row);
      return { score: s.score, threshold: this.card.threshold.value, contributions: s.contributions };
    });
  }

  async close(): Promise<void> {}
}
