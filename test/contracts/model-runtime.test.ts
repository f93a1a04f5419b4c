import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../../models/artifacts.js';
import { fitPca } from '../../models/detectors/pca.js';
import { buildPcaArtifact } from '../../models/detectors/pca-artifact.js';
import { OnnxModelRuntime } from '../../models/runtime.js';
import { PcaJsRuntime } from '../../models/runtime-js.js';
import { modelRuntimeContract } from './model-runtime.contract.js';

function normalData(n: number): number[][] {
  let s = 11;
  const rand = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  return Array.from({ length: n }, (_, i) => {
    const a = Math.sin(i / 7) + rand() * 0.3;
    return [a, a * 0.5 + rand() * 0.2, 5 + rand(), 2 * a + rand() * 0.1].map(Math.fround);
  });
}

function artifact() {
  const train = normalData(400);
  const model = fitPca(train);
  const built = buildPcaArtifact({
    id: 'contract-pca',
    version: '1',
    model,
    featureNames: ['a.rms', 'b.rms', 'c.mean', 'd.mean'],
    pipeline: { smooth: 1 },
    decision: { openAfter: 1, clearAfter: 1, clearRatio: 1 },
    training: { source: 'synthetic', rows: train.length, durationMs: 0, summary: {} },
  });
  return { model, built, train };
}

modelRuntimeContract('OnnxModelRuntime (from files on disk)', async () => {
  const { built, train } = artifact();
  const { cardPath } = writeModel(mkdtempSync(join(tmpdir(), 'pdm-model-')), built);
  return { runtime: await OnnxModelRuntime.load(cardPath), normal: train };
});

modelRuntimeContract('PcaJsRuntime', async () => {
  const { built, model, train } = artifact();
  return { runtime: new PcaJsRuntime(built.card, model), normal: train };
});

modelRuntimeContract('OnnxModelRuntime (shipped models/default/pump-vibration-pca)', async () => {
  const { defaultTrainingData } = await import('../../cli/commands/train.js');
  const path = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));
  return { runtime: await OnnxModelRuntime.load(path), normal: defaultTrainingData(5, 60).healthy };
});
