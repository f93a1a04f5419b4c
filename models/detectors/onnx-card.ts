import { sha256, type ModelCard } from '../card.js';
import { ONNX_IR_VERSION, ONNX_OPSET, type OnnxGraph } from '../onnx/onnx-model.js';

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
  if (names.length !== modelFeatures) throw new Error(`${names.length} feature names for a model of ${modelFeatures} features`);
}
