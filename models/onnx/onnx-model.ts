import { PdmError } from '../../protocol/errors.js';
import { ProtoWriter } from './protobuf.js';

/**
 * Builds ONNX ModelProto bytes from a small graph description. Field numbers follow onnx/onnx.proto (IR version 8):
 * ModelProto{ir_version=1, producer_name=2, producer_version=3, model_version=5, doc_string=6, graph=7,
 * opset_import=8, metadata_props=14}; GraphProto{node=1, name=2, initializer=5, input=11, output=12};
 * NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}; TensorProto{dims=1, data_type=2, float_data=4,
 * int64_data=7, name=8}; ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; Tensor{elem_type=1, shape=2};
 * TensorShapeProto{dim=1}; Dimension{dim_value=1, dim_param=2}; AttributeProto{name=1, i=3, ints=8, type=20}.
 */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;

/** The operators the exporters emit (PCA and dense autoencoder), all standard ONNX ops at opset 13. */
export const SUPPORTED_OPERATORS = ['Add', 'Div', 'MatMul', 'Max', 'Mul', 'ReduceSum', 'Relu', 'Sub'] as const;
export type OnnxOp = (typeof SUPPORTED_OPERATORS)[number];

const DATA_TYPE = { float: 1, int64: 7 } as const;

export interface OnnxTensor {
  name: string;
  type: keyof typeof DATA_TYPE;
  dims: number[];
  values: ArrayLike<number>;
}

export interface OnnxNode {
  op: OnnxOp;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[]>;
}

export interface OnnxValue {
  name: string;
  /** A number is a fixed size; a string names a symbolic dimension such as the batch. */
  shape: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  initializers: OnnxTensor[];
  nodes: OnnxNode[];
  metadata?: Record<string, string>;
  docString?: string;
  modelVersion?: number;
}

function writeValueInfo(w: ProtoWriter, value: OnnxValue): void {
  w.string(1, value.name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, DATA_TYPE.float).message(2, (shape) => {
        for (const dim of value.shape)
          shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
      }),
    ),
  );
}

function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.values.length !== expected)
    throw new PdmError(
      'PDM_ERR_ONNX_EXPORT',
      `initializer ${t.name} has ${t.values.length} values for dims [${t.dims}]`,
    );
  for (let i = 0; i < t.values.length; i++) {
    if (!Number.isFinite(t.values[i]!))
      throw new PdmError('PDM_ERR_ONNX_EXPORT', `initializer ${t.name} holds a non-finite value at ${i}`);
  }
  w.packedInts(1, t.dims).int(2, DATA_TYPE[t.type]);
  if (t.type === 'float') w.packedFloats(4, t.values);
  else w.packedInts(7, t.values);
  w.string(8, t.name);
}

function writeNode(w: ProtoWriter, node: OnnxNode, index: number): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, `${node.op}_${index}`).string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => {
      a.string(1, name);
      if (Array.isArray(value)) a.packedInts(8, value).int(20, 7);
      else a.int(3, value).int(20, 2);
    });
  }
}

/** Checks that every node input is produced before use, so a broken graph fails here rather than inside onnxruntime. */
function checkGraph(g: OnnxGraph): void {
  const known = new Set([...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name)]);
  g.nodes.forEach((node, i) => {
    if (!SUPPORTED_OPERATORS.includes(node.op))
      throw new PdmError('PDM_ERR_ONNX_EXPORT', `node ${i}: operator ${node.op} is not supported`);
    for (const input of node.inputs) {
      if (!known.has(input))
        throw new PdmError('PDM_ERR_ONNX_EXPORT', `node ${i} (${node.op}) uses "${input}" before it is produced`);
    }
    for (const output of node.outputs) known.add(output);
  });
  for (const output of g.outputs) {
    if (!known.has(output.name))
      throw new PdmError('PDM_ERR_ONNX_EXPORT', `graph output "${output.name}" is never produced`);
  }
}

export function encodeOnnxModel(g: OnnxGraph): Uint8Array {
  checkGraph(g);
  const w = new ProtoWriter();
  w.int(1, ONNX_IR_VERSION)
    .string(2, 'edge-pdm')
    .string(3, '0.1.0')
    .int(5, g.modelVersion ?? 1);
  if (g.docString) w.string(6, g.docString);
  w.message(7, (graph) => {
    g.nodes.forEach((node, i) => graph.message(1, (n) => writeNode(n, node, i)));
    graph.string(2, g.name);
    for (const t of g.initializers) graph.message(5, (w2) => writeTensor(w2, t));
    for (const v of g.inputs) graph.message(11, (w2) => writeValueInfo(w2, v));
    for (const v of g.outputs) graph.message(12, (w2) => writeValueInfo(w2, v));
  });
  w.message(8, (opset) => opset.string(1, '').int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(g.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}
