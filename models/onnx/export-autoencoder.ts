import type { AutoencoderModel } from '../detectors/autoencoder.js';
import { encodeOnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx-model.js';

export const AE_IO = { input: 'features', score: 'score', contributions: 'contributions' } as const;

/**
 * Dense autoencoder as ONNX over flattened windows [N, window·F]: standardise (per-feature mean/scale tiled over the
 * window), MatMul + Add (+ Relu) per layer, squared error; contributions = squared error summed per feature through a
 * fixed [window·F, F] matrix holding 1/(window·F·limit), score = their sum = MSE / limit.
 */
export function autoencoderGraph(model: AutoencoderModel, metadata: Record<string, string> = {}): OnnxGraph {
  const f = model.mean.length;
  const width = f * model.window;
  const tile = (v: number[]): number[] => Array.from({ length: width }, (_, i) => v[i % f]!);
  const sum: number[] = new Array(width * f).fill(0);
  for (let i = 0; i < width; i++) sum[i * f + (i % f)] = 1 / (width * model.limit);
  const initializers: OnnxTensor[] = [
    { name: 'mean', type: 'float', dims: [width], values: tile(model.mean) },
    { name: 'scale', type: 'float', dims: [width], values: tile(model.scale) },
    { name: 'per_feature', type: 'float', dims: [width, f], values: sum },
    { name: 'axis1', type: 'int64', dims: [1], values: [1] },
  ];
  const nodes: OnnxNode[] = [
    { op: 'Sub', inputs: [AE_IO.input, 'mean'], outputs: ['centred'] },
    { op: 'Div', inputs: ['centred', 'scale'], outputs: ['z'] },
  ];
  let h = 'z';
  model.layers.forEach((layer, i) => {
    initializers.push({ name: `W${i}`, type: 'float', dims: [layer.inputs, layer.outputs], values: layer.weights });
    initializers.push({ name: `b${i}`, type: 'float', dims: [layer.outputs], values: layer.bias });
    nodes.push({ op: 'MatMul', inputs: [h, `W${i}`], outputs: [`mm${i}`] });
    nodes.push({ op: 'Add', inputs: [`mm${i}`, `b${i}`], outputs: [`pre${i}`] });
    if (layer.activation === 'relu') {
      nodes.push({ op: 'Relu', inputs: [`pre${i}`], outputs: [`h${i}`] });
      h = `h${i}`;
    } else h = `pre${i}`;
  });
  nodes.push(
    { op: 'Sub', inputs: ['z', h], outputs: ['error'] },
    { op: 'Mul', inputs: ['error', 'error'], outputs: ['squared'] },
    { op: 'MatMul', inputs: ['squared', 'per_feature'], outputs: [AE_IO.contributions] },
    { op: 'ReduceSum', inputs: [AE_IO.contributions, 'axis1'], outputs: [AE_IO.score], attributes: { keepdims: 0 } },
  );
  return {
    name: 'dense_autoencoder',
    docString: 'Dense autoencoder over sliding windows; score = reconstruction MSE / calibrated limit.',
    inputs: [{ name: AE_IO.input, shape: ['N', width] }],
    outputs: [
      { name: AE_IO.score, shape: ['N'] },
      { name: AE_IO.contributions, shape: ['N', f] },
    ],
    initializers,
    nodes,
    metadata,
  };
}

export function exportAutoencoderOnnx(model: AutoencoderModel, metadata: Record<string, string> = {}): Uint8Array {
  return encodeOnnxModel(autoencoderGraph(model, metadata));
}
