import type { PcaModel } from '../detectors/pca.js';
import { encodeOnnxModel, type OnnxGraph } from './onnx-model.js';

/** Names of the PCA model's ONNX inputs and outputs; the runtime and the card refer to these. */
export const PCA_IO = { input: 'features', score: 'score', t2: 't2', q: 'q', contributions: 'contributions' } as const;

/**
 * PCA T²/Q as an ONNX graph over a batch [N, F]: standardise, project, T² = Σ t²/λ, Q = ‖z − tP‖²,
 * score = max(T²/T²_limit, Q/Q_limit), contributions[j] = z_j·(t/λ·P)_j / T²_limit + r_j² / Q_limit.
 */
export function pcaGraph(model: PcaModel, metadata: Record<string, string> = {}): OnnxGraph {
  const f = model.mean.length;
  const k = model.components.length;
  const p = model.components.flat();
  const pT: number[] = [];
  for (let j = 0; j < f; j++) for (let c = 0; c < k; c++) pT.push(model.components[c]![j]!);
  return {
    name: 'pca_t2q',
    docString: 'PCA monitoring: Hotelling T2 and Q (SPE), normalised by their calibrated limits.',
    inputs: [{ name: PCA_IO.input, shape: ['N', f] }],
    outputs: [
      { name: PCA_IO.score, shape: ['N'] },
      { name: PCA_IO.t2, shape: ['N'] },
      { name: PCA_IO.q, shape: ['N'] },
      { name: PCA_IO.contributions, shape: ['N', f] },
    ],
    initializers: [
      { name: 'mean', type: 'float', dims: [f], values: model.mean },
      { name: 'scale', type: 'float', dims: [f], values: model.scale },
      { name: 'P', type: 'float', dims: [k, f], values: p },
      { name: 'PT', type: 'float', dims: [f, k], values: pT },
      { name: 'lambda', type: 'float', dims: [k], values: model.eigenvalues },
      { name: 't2_limit', type: 'float', dims: [1], values: [model.t2Limit] },
      { name: 'q_limit', type: 'float', dims: [1], values: [model.qLimit] },
      { name: 'axis1', type: 'int64', dims: [1], values: [1] },
    ],
    nodes: [
      { op: 'Sub', inputs: [PCA_IO.input, 'mean'], outputs: ['centred'] },
      { op: 'Div', inputs: ['centred', 'scale'], outputs: ['z'] },
      { op: 'MatMul', inputs: ['z', 'PT'], outputs: ['t'] },
      { op: 'Div', inputs: ['t', 'lambda'], outputs: ['tw'] },
      { op: 'Mul', inputs: ['t', 'tw'], outputs: ['t2_terms'] },
      { op: 'ReduceSum', inputs: ['t2_terms', 'axis1'], outputs: [PCA_IO.t2], attributes: { keepdims: 0 } },
      { op: 'MatMul', inputs: ['t', 'P'], outputs: ['recon'] },
      { op: 'Sub', inputs: ['z', 'recon'], outputs: ['residual'] },
      { op: 'Mul', inputs: ['residual', 'residual'], outputs: ['r2'] },
      { op: 'ReduceSum', inputs: ['r2', 'axis1'], outputs: [PCA_IO.q], attributes: { keepdims: 0 } },
      { op: 'Div', inputs: [PCA_IO.t2, 't2_limit'], outputs: ['t2_norm'] },
      { op: 'Div', inputs: [PCA_IO.q, 'q_limit'], outputs: ['q_norm'] },
      { op: 'Max', inputs: ['t2_norm', 'q_norm'], outputs: [PCA_IO.score] },
      { op: 'MatMul', inputs: ['tw', 'P'], outputs: ['t2_back'] },
      { op: 'Mul', inputs: ['z', 't2_back'], outputs: ['t2_contrib'] },
      { op: 'Div', inputs: ['t2_contrib', 't2_limit'], outputs: ['t2_contrib_norm'] },
      { op: 'Div', inputs: ['r2', 'q_limit'], outputs: ['q_contrib_norm'] },
      { op: 'Add', inputs: ['t2_contrib_norm', 'q_contrib_norm'], outputs: [PCA_IO.contributions] },
    ],
    metadata,
  };
}

export function exportPcaOnnx(model: PcaModel, metadata: Record<string, string> = {}): Uint8Array {
  return encodeOnnxModel(pcaGraph(model, metadata));
}
