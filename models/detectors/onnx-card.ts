import { sha256, type ModelCard } from '../card.js';
import type { LabelPolicy } from '../decision.js';
import type { ReferenceDistribution } from '../distribution.js';
import type { FeatureSpec } from '../features.js';
import { ONNX_IR_VERSION, ONNX_OPSET, type OnnxGraph } from '../onnx/onnx-model.js';

/** What every detector's artifact builder takes besides its fitted model: identity, feature order, decision, provenance. */
export interface ArtifactInput<Model> {
  id: string;
  version: string;
  model: Model;
  featureNames: string[];
  pipeline: FeatureSpec;
  decision: Omit<LabelPolicy, 'threshold'>;
  training: ModelCard['training'];
  metrics?: Record<string, number>;
  createdAt?: Date;
  /** Training feature and score bins (models/distribution.ts) for the hub's drift monitor; left out, the card has none. */
  distribution?: ReferenceDistribution;
}

/** The card's `onnx` section, the same for every exported detector: file, hashes, format versions, operators, I/O names. */
export function onnxCardSection(
  id: string,
  onnx: Uint8Array,
  graph: OnnxGraph,
  io: { input: string; score: string; contributions: string },
): ModelCard['onnx'] {
  return {
    file: `${id}.onnx`,
    sha256: sha256(onnx),
    bytes: onnx.length,
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    operators: [...new Set(graph.nodes.map((n) => n.op))].sort(),
    input: io.input,
    outputs: { score: io.score, contributions: io.contributions },
  };
}

/** A model trained on N features must be described by N names. */
export function checkFeatureNames(names: readonly string[], modelFeatures: number): void {
  if (names.length !== modelFeatures)
    throw new Error(`${names.length} feature names for a model of ${modelFeatures} features`);
}

/** A reference distribution must bin exactly the model's features, or drift would be measured against the wrong data. */
export function checkDistribution(distribution: ReferenceDistribution, names: readonly string[]): void {
  const binned = Object.keys(distribution.features);
  const missing = names.filter((n) => !binned.includes(n));
  const extra = binned.filter((n) => !names.includes(n));
  if (missing.length || extra.length) {
    throw new Error(
      `distribution features differ from the model's: missing [${missing.join(', ')}], extra [${extra.join(', ')}]`,
    );
  }
}
