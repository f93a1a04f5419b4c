import type * as Ort from 'onnxruntime-node';
import type { Contribution } from '../protocol/messages.js';
import { PdmError } from '../protocol/errors.js';
import { readModel, type ModelArtifact } from './artifacts.js';
import type { ModelCard } from './card.js';

/** One scored feature vector: `score` ≥ `threshold` means anomalous; `contributions` follow the card's feature order. */
export interface ModelScore {
  score: number;
  threshold: number;
  contributions: number[];
}

/**
 * What the agent needs from a model, whatever runs it. Implementations: OnnxModelRuntime (production) and any test
 * double; all pass test/contracts/model-runtime.contract.ts.
 */
export interface ModelRuntime {
  readonly card: ModelCard;
  /** Scores a batch of feature vectors (each in the card's feature order). Rejects bad input with PDM_ERR_MODEL_INPUT. */
  score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]>;
  close(): Promise<void>;
}

/** Throws PDM_ERR_MODEL_INPUT naming the first bad row/feature, so a wiring mistake is never scored silently. */
export function validateBatch(card: ModelCard, batch: ReadonlyArray<ReadonlyArray<number>>): void {
  const names = card.features.names;
  const window = card.features.pipeline.window;
  const width = names.length * window;
  batch.forEach((row, i) => {
    if (!Array.isArray(row) && !(row instanceof Float32Array) && !(row instanceof Float64Array)) {
      throw new PdmError('PDM_ERR_MODEL_INPUT', `row ${i} is not an array of numbers`);
    }
    if (row.length !== width) {
      const shape = window > 1 ? `${window} rows x ${names.length} features` : `${names.length}`;
      throw new PdmError(
        'PDM_ERR_MODEL_INPUT',
        `row ${i} has ${row.length} values, model ${card.id} expects ${shape} (${names.join(', ')})`,
      );
    }
    for (let j = 0; j < row.length; j++) {
      if (typeof row[j] !== 'number' || !Number.isFinite(row[j]))
        throw new PdmError(
          'PDM_ERR_MODEL_INPUT',
          `row ${i} feature "${names[j % names.length]}" is ${String(row[j])}, expected a finite number`,
        );
    }
  });
}

/** The top contributing features of one score, by absolute contribution, with shares summing to 1 over all features. */
export function explain(card: ModelCard, score: ModelScore, top = 3): Contribution[] {
  const total = score.contributions.reduce((s, c) => s + Math.abs(c), 0);
  return score.contributions
    .map((value, j) => ({ feature: card.features.names[j]!, value, share: total > 0 ? Math.abs(value) / total : 0 }))
    .sort((a, b) => b.share - a.share)
    .slice(0, top);
}

/**
 * onnxruntime's native library is loaded on first use: a process that never scores with ONNX never pays its memory.
 * Its telemetry is switched off first (./onnxruntime-telemetry.ts says why and how to keep it).
 */
let runtime: Promise<typeof Ort> | undefined;
const onnxruntime = (): Promise<typeof Ort> =>
  (runtime ??= import('./onnxruntime-telemetry.js').then(() => import('onnxruntime-node')));

export class OnnxModelRuntime implements ModelRuntime {
  private constructor(
    readonly card: ModelCard,
    private readonly session: Ort.InferenceSession,
    private readonly ort: typeof Ort,
  ) {}

  /** Loads `<id>.card.json` and the ONNX file it names, verifying hashes, then checks the graph's inputs/outputs. */
  static async load(cardPath: string): Promise<OnnxModelRuntime> {
    return OnnxModelRuntime.fromArtifact(readModel(cardPath));
  }

  /** `executionProviders` in onnxruntime's order of preference; CPU only when not given. */
  static async fromArtifact(
    { card, onnx }: ModelArtifact,
    opts: { executionProviders?: string[] } = {},
  ): Promise<OnnxModelRuntime> {
    const ort = await onnxruntime();
    let session: Ort.InferenceSession;
    try {
      // One intra-op thread: edge devices run several things at once, and batches here are small.
      const providers = opts.executionProviders ? { executionProviders: opts.executionProviders } : {};
      session = await ort.InferenceSession.create(onnx, { ...providers, intraOpNumThreads: 1, interOpNumThreads: 1 });
    } catch (error) {
      throw new PdmError(
        'PDM_ERR_MODEL_INVALID',
        `${card.id} ${card.version}: onnxruntime rejected the graph (${(error as Error).message})`,
        { cause: error },
      );
    }
    const missing = [card.onnx.outputs.score, card.onnx.outputs.contributions].filter(
      (name) => !session.outputNames.includes(name),
    );
    if (!session.inputNames.includes(card.onnx.input) || missing.length > 0) {
      await session.release();
      throw new PdmError(
        'PDM_ERR_MODEL_INVALID',
        `${card.id}: graph has inputs [${session.inputNames}] and outputs [${session.outputNames}], card expects input ` +
          `${card.onnx.input} and outputs ${card.onnx.outputs.score}, ${card.onnx.outputs.contributions}`,
      );
    }
    return new OnnxModelRuntime(card, session, ort);
  }

  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    validateBatch(this.card, batch);
    if (batch.length === 0) return [];
    const f = this.card.features.names.length;
    const width = f * this.card.features.pipeline.window;
    const data = new Float32Array(batch.length * width);
    batch.forEach((row, i) => data.set(row, i * width));
    const out = await this.session.run({
      [this.card.onnx.input]: new this.ort.Tensor('float32', data, [batch.length, width]),
    });
    const scores = out[this.card.onnx.outputs.score]!.data as Float32Array;
    const contributions = out[this.card.onnx.outputs.contributions]!.data as Float32Array;
    const threshold = this.card.threshold.value;
    return batch.map((_, i) => ({
      score: scores[i]!,
      threshold,
      contributions: Array.from(contributions.subarray(i * f, (i + 1) * f)),
    }));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
