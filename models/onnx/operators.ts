import protobuf from 'protobufjs';
import { PdmError } from '../../protocol/errors.js';

/**
 * The part of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto) that names operators: models, graphs, nodes, the
 * subgraphs in node attributes (If, Loop, Scan) and model-local functions. protobufjs skips every other field.
 */
const ONNX_SUBSET = `
syntax = "proto3";
package onnx;
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message AttributeProto { string name = 1; GraphProto g = 6; repeated GraphProto graphs = 11; }
message NodeProto { string op_type = 4; string domain = 7; repeated AttributeProto attribute = 5; }
message GraphProto { repeated NodeProto node = 1; }
message FunctionProto { string name = 1; repeated NodeProto node = 7; string domain = 10; }
message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  GraphProto graph = 7;
  repeated FunctionProto functions = 25;
}
`;

interface Node {
  op_type?: string;
  domain?: string;
  attribute?: Array<{ g?: Graph; graphs?: Graph[] }>;
}
interface Graph {
  node?: Node[];
}
interface Model {
  opset_import?: Array<{ domain?: string; version?: number | { toNumber(): number } }>;
  graph?: Graph;
  functions?: Array<{ name?: string; domain?: string; node?: Node[] }>;
}

let modelType: protobuf.Type | undefined;

/** `Gemm` for the default domain (`''` or `ai.onnx`), `domain:Op` for any other (`ai.onnx.ml:TreeEnsembleRegressor`). */
export function operatorName(domain: string | undefined, op: string): string {
  return !domain || domain === 'ai.onnx' ? op : `${domain}:${op}`;
}

export interface OnnxOperators {
  /** Every operator the model's graph, its subgraphs and its local functions use, sorted. */
  operators: string[];
  /** Imported operator sets: domain ('' = default) → version. */
  opsets: Record<string, number>;
}

/** Reads the operators an ONNX model uses; throws on bytes that are not a ModelProto with a graph. */
export function onnxOperators(onnx: Uint8Array): OnnxOperators {
  modelType ??= protobuf.parse(ONNX_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const model = modelType.toObject(modelType.decode(onnx), { defaults: false }) as Model;
  if (!model.graph) throw new Error('no graph (not an ONNX ModelProto?)');
  const functions = new Set((model.functions ?? []).map((f) => operatorName(f.domain, f.name ?? '')));
  const used = new Set<string>();
  const visit = (nodes: Node[] | undefined, depth: number): void => {
    // A subgraph nested deeper than this is no model of ours; refuse rather than recurse without end.
    if (depth > 32) throw new Error('subgraphs nested more than 32 deep');
    for (const node of nodes ?? []) {
      const name = operatorName(node.domain, node.op_type ?? '');
      // A call of a model-local function is not an operator: the function's own nodes are checked instead.
      if (!functions.has(name)) used.add(name);
      for (const a of node.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) visit(g?.node, depth + 1);
    }
  };
  visit(model.graph.node, 0);
  for (const f of model.functions ?? []) visit(f.node, 1);
  const opsets: Record<string, number> = {};
  for (const o of model.opset_import ?? []) opsets[o.domain ?? ''] = Number(o.version ?? 0);
  return { operators: [...used].sort(), opsets };
}

/**
 * What the registry signs without being told otherwise: the operators of our exported models (PCA, autoencoder) and
 * of common anomaly models (dense, convolutional and recurrent networks; scikit-learn's scalers, trees, linear models
 * and one-class SVMs through ai.onnx.ml). Left out: control flow (If, Loop, Scan: unbounded work), random, string
 * and sequence operators, and every vendor domain (com.microsoft and others), whose kernels see far less review.
 */
export const DEFAULT_ALLOWED_OPERATORS: readonly string[] = [
  ...['Abs', 'Add', 'And', 'ArgMax', 'ArgMin', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Clip'],
  ...['Concat', 'Constant', 'ConstantOfShape', 'Conv', 'ConvTranspose', 'Div', 'Dropout', 'Elu', 'Equal', 'Erf'],
  ...['Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'Greater'],
  ...['GreaterOrEqual', 'GRU', 'HardSigmoid', 'Identity', 'InstanceNormalization', 'LayerNormalization'],
  ...['LeakyRelu', 'Less', 'LessOrEqual', 'Log', 'LSTM', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mul', 'Neg'],
  ...['Not', 'Or', 'Pad', 'Pow', 'PRelu', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceMax', 'ReduceMean'],
  ...['ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'RNN', 'Selu', 'Shape'],
  ...['Sigmoid', 'Sign', 'Slice', 'Softmax', 'Softplus', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile'],
  ...['TopK', 'Transpose', 'Unsqueeze', 'Where'],
  ...[
    ...['Scaler', 'Normalizer', 'Imputer', 'ArrayFeatureExtractor', 'LinearRegressor', 'LinearClassifier'],
    ...['TreeEnsembleRegressor', 'TreeEnsembleClassifier', 'SVMRegressor', 'SVMClassifier', 'ZipMap'],
  ].map((op) => `ai.onnx.ml:${op}`),
];

/** `'any'` skips the check (tests that hand agents graphs the registry would refuse use it). */
export type OperatorPolicy = ReadonlySet<string> | 'any';

/**
 * Refuses a model whose graph (with its subgraphs and local functions) uses an operator outside `allowed`
 * (PDM_ERR_MODEL_OPERATOR, naming each one), or bytes that are no ONNX model (PDM_ERR_MODEL_INVALID).
 */
export function checkOperators(onnx: Uint8Array, allowed: OperatorPolicy, what: string): void {
  if (allowed === 'any') return;
  let found: OnnxOperators;
  try {
    found = onnxOperators(onnx);
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${what}: the ONNX graph cannot be read: ${(error as Error).message}`);
  }
  const refused = found.operators.filter((op) => !allowed.has(op));
  if (refused.length)
    throw new PdmError(
      'PDM_ERR_MODEL_OPERATOR',
      `${what} uses ${refused.map((o) => `"${o}"`).join(', ')} (allowed: registry.allowedOperators)`,
    );
}
