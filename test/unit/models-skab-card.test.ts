import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModel, writeModel } from '../../models/artifacts.js';
import { sealCard } from '../../models/card.js';
import { fitPca } from '../../models/detectors/pca.js';
import { buildPcaArtifact } from '../../models/detectors/pca-artifact.js';
import { SKAB_PCA } from '../../models/eval/skab-detectors.js';
import { isPdmError } from '../../protocol/errors.js';

/** The SKAB model's card states the whole decision rule it was scored with, optional parts included. */
function build() {
  const rows = Array.from({ length: 120 }, (_, i) =>
    SKAB_PCA.sensors.map((_, j) => Math.sin(i / (j + 2)) + (i % (j + 3)) / 10),
  );
  return buildPcaArtifact({
    id: 'skab-card',
    version: '1',
    model: fitPca(rows, SKAB_PCA.pca),
    featureNames: SKAB_PCA.sensors.map((s) => `${s}.mean${SKAB_PCA.features.smooth}`),
    pipeline: SKAB_PCA.features,
    decision: SKAB_PCA.decision,
    training: { source: 'unit test', rows: rows.length, durationMs: 0, summary: {} },
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
}

describe('SKAB model card decision', () => {
  it('round-trips the relative clear, re-arm half-life and hold-off through disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-skab-card-'));
    const { cardPath } = writeModel(dir, build());
    const { card } = readModel(cardPath);
    expect(card.decision).toEqual({
      openAfter: 3,
      openWindow: 5,
      clearAfter: 5,
      clearRatio: 0.85,
      peakClearRatio: 0.03,
      rearmHalfLife: 300,
      holdOff: 30,
    });
  });

  it('refuses a card whose peakClearRatio is not a fraction, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-skab-card-'));
    const { cardPath } = writeModel(dir, build());
    const { contentHash: _old, ...card } = JSON.parse(readFileSync(cardPath, 'utf8'));
    writeFileSync(cardPath, JSON.stringify(sealCard({ ...card, decision: { ...card.decision, peakClearRatio: 1.5 } })));
    try {
      readModel(cardPath);
      expect.unreachable();
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_MODEL_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/decision\.peakClearRatio/);
    }
  });
});
