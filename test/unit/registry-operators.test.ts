import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { registryActions } from '../../hub/registry/api.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { readModel, type ModelArtifact } from '../../models/artifacts.js';
import { encodeBundle } from '../../models/bundle.js';
import { sealCard, sha256 } from '../../models/card.js';
import { checkOperators, DEFAULT_ALLOWED_OPERATORS, onnxOperators } from '../../models/onnx/operators.js';
import { ProtoWriter } from '../../models/onnx/protobuf.js';
import { isPdmError } from '../../protocol/errors.js';

const card = (name: string) => fileURLToPath(new URL(`../../models/default/${name}.card.json`, import.meta.url));
const pca = readModel(card('pump-vibration-pca'));
const ae = readModel(card('pump-vibration-ae'));

/** One NodeProto: op_type = 4, domain = 7, attribute = 5 (AttributeProto: name = 1, g = 6). */
function node(w: ProtoWriter, op: string, opts: { domain?: string; subgraphOps?: string[] } = {}): void {
  w.string(4, op);
  if (opts.domain) w.string(7, opts.domain);
  if (opts.subgraphOps)
    w.message(5, (a) =>
      a.string(1, 'then_branch').message(6, (g) => opts.subgraphOps!.forEach((o) => g.message(1, (n) => node(n, o)))),
    );
}

/**
 * The shipped PCA graph with more appended: protobuf merges a repeated message field's occurrences, so a second
 * `graph` (ModelProto field 7) adds its nodes to the real graph, and `functions` (field 25) adds local functions.
 */
function tampered(extra: (w: ProtoWriter) => void): ModelArtifact {
  const w = new ProtoWriter();
  extra(w);
  const onnx = Buffer.concat([pca.onnx, w.finish()]);
  const { contentHash: _h, ...rest } = pca.card;
  return {
    card: sealCard({ ...rest, version: '9.0.0', onnx: { ...pca.card.onnx, sha256: sha256(onnx), bytes: onnx.length } }),
    onnx,
  };
}

function registry(allowedOperators?: string[]): ModelRegistry {
  return new ModelRegistry({
    dir: mkdtempSync(join(tmpdir(), 'pdm-registry-ops-')),
    logger: pino({ level: 'silent' }),
    publish: async () => undefined,
    ...(allowedOperators ? { allowedOperators: new Set(allowedOperators) } : {}),
  });
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isPdmError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('ONNX operator allow-list (models/onnx/operators.ts, registry)', () => {
  it('reads the operators of the shipped models, which the default list allows', () => {
    expect(onnxOperators(pca.onnx)).toEqual({
      operators: ['Add', 'Div', 'MatMul', 'Max', 'Mul', 'ReduceSum', 'Sub'],
      opsets: { '': 13 },
    });
    expect(onnxOperators(ae.onnx).operators).toEqual(['Add', 'Div', 'MatMul', 'Mul', 'ReduceSum', 'Relu', 'Sub']);
    const r = registry();
    expect(r.store.add(pca).modelId).toBe('pump-vibration-pca');
    expect(r.store.add(ae).modelId).toBe('pump-vibration-ae');
  });

  it('refuses to sign a model with an operator outside the list, naming it, through the upload API too', () => {
    const r = registry();
    const withLoop = tampered((w) => w.message(7, (g) => g.message(1, (n) => node(n, 'Loop'))));
    const refused = refusal(() => registryActions(r).upload(JSON.parse(encodeBundle(withLoop).toString('utf8'))));
    expect(refused.code).toBe('PDM_ERR_MODEL_OPERATOR');
    expect(refused.message).toBe(
      'model uses an ONNX operator outside the registry allow-list: pump-vibration-pca 9.0.0 uses "Loop" ' +
        '(allowed: registry.allowedOperators)',
    );
    expect(r.list()).toEqual([]); // nothing signed, nothing stored
    // A vendor domain's operator is named with its domain.
    const contrib = tampered((w) =>
      w.message(7, (g) => g.message(1, (n) => node(n, 'Attention', { domain: 'com.microsoft' }))),
    );
    expect(refusal(() => r.store.add(contrib)).message).toContain('"com.microsoft:Attention"');
  });

  it('counts the operators of subgraphs and of model-local functions', () => {
    // If is allowed here, so only what its branch holds can refuse it.
    const r = registry([...DEFAULT_ALLOWED_OPERATORS, 'If']);
    const branch = tampered((w) =>
      w.message(7, (g) => g.message(1, (n) => node(n, 'If', { subgraphOps: ['Relu', 'RandomNormal'] }))),
    );
    expect(refusal(() => r.store.add(branch))).toMatchObject({ code: 'PDM_ERR_MODEL_OPERATOR' });
    expect(refusal(() => r.store.add(branch)).message).toContain('"RandomNormal"');
    // A local function (ModelProto.functions = 25; FunctionProto name = 1, node = 7, domain = 10) and a call of it.
    const fn = tampered((w) => {
      w.message(25, (f) =>
        f
          .string(1, 'Helper')
          .string(10, 'local')
          .message(7, (n) => node(n, 'StringNormalizer')),
      );
      w.message(7, (g) => g.message(1, (n) => node(n, 'Helper', { domain: 'local' })));
    });
    const refused = refusal(() => r.store.add(fn));
    expect(refused.message).toContain('"StringNormalizer"');
    expect(refused.message).not.toContain('Helper'); // the call is not an operator; its body is what counts
  });

  it('a configured list replaces the default; bytes that are no ONNX model are refused as invalid', () => {
    const narrow = registry(['Add', 'Div', 'MatMul', 'Mul', 'ReduceSum', 'Sub']);
    expect(refusal(() => narrow.store.add(pca)).message).toContain('uses "Max"');
    expect(() =>
      checkOperators(pca.onnx, new Set(['Max', 'Add', 'Div', 'MatMul', 'Mul', 'ReduceSum', 'Sub']), 'x'),
    ).not.toThrow();
    const garbage = Buffer.from(pca.onnx.subarray(0, 100));
    expect(refusal(() => checkOperators(garbage, new Set(DEFAULT_ALLOWED_OPERATORS), 'cut'))).toMatchObject({
      code: 'PDM_ERR_MODEL_INVALID',
    });
  });
});
