import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModel, writeModel } from '../../models/artifacts.js';
import { cardContentHash, canonicalJson } from '../../models/card.js';
import { fitPca } from '../../models/detectors/pca.js';
import { buildPcaArtifact } from '../../models/detectors/pca-artifact.js';
import { isPdmError } from '../../protocol/errors.js';

function build() {
  const rows = Array.from({ length: 100 }, (_, i) => [Math.sin(i), Math.cos(i / 3), (i % 7) / 7]);
  return buildPcaArtifact({
    id: 'card-test',
    version: '3',
    model: fitPca(rows),
    featureNames: ['x', 'y', 'z'],
    pipeline: { smooth: 5 },
    decision: { openAfter: 3, clearAfter: 10, clearRatio: 1 },
    training: { source: 'unit test', rows: 100, seed: 1, durationMs: 1, summary: {} },
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
}

const expectModelError = (fn: () => unknown, text: RegExp): void => {
  try {
    fn();
    expect.unreachable();
  } catch (error) {
    expect(isPdmError(error, 'PDM_ERR_MODEL_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(text);
  }
};

describe('model card', () => {
  it('states features, normalisation, threshold rule and hashes, and round-trips through disk', () => {
    const { card, onnx } = build();
    expect(card.schema).toBe('pdm.model-card/v1');
    expect(card.features.names).toEqual(['x', 'y', 'z']);
    expect(card.threshold.rule).toMatch(/quantile 0\.99 .* x 1\.5/);
    expect(card.onnx.operators).toContain('MatMul');
    expect(card.contentHash).toBe(cardContentHash(card));
    const dir = mkdtempSync(join(tmpdir(), 'pdm-card-'));
    const { cardPath } = writeModel(dir, { card, onnx });
    expect(readModel(cardPath).card).toEqual(card);
  });

  it('hashes canonically: key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe('{"a":[2,{"c":2,"d":1}],"b":1}');
  });

  it('refuses a changed ONNX file, an edited card and a card missing a field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-card-'));
    const { cardPath, onnxPath } = writeModel(dir, build());
    const original = readFileSync(cardPath, 'utf8');

    const onnx = readFileSync(onnxPath);
    onnx[onnx.length - 1]! ^= 1;
    writeFileSync(onnxPath, onnx);
    expectModelError(() => readModel(cardPath), /sha256\/size differ/);

    writeFileSync(cardPath, original.replace('"openAfter": 3', '"openAfter": 4'));
    expectModelError(() => readModel(cardPath), /contentHash does not match/);

    const card = JSON.parse(original);
    delete card.threshold;
    writeFileSync(cardPath, JSON.stringify(card));
    expectModelError(() => readModel(cardPath), /threshold/);

    expectModelError(() => readModel(join(dir, 'nope.card.json')), /cannot read model card/);
  });
});
