import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { OnnxModelRuntime } from '../../models/runtime.js';
import { PcaJsRuntime } from '../../models/runtime-js.js';
import { fitPca } from '../../models/detectors/pca.js';
import { buildPcaArtifact } from '../../models/detectors/pca-artifact.js';
import { vibrationFeatures } from '../../models/vibration-features.js';
import type { Report } from '../result.js';

/** Mean time of `fn` over about `ms` milliseconds (async), after a warm-up. */
async function meanMicros(fn: () => Promise<unknown>, ms = 1000): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

/**
 * Scoring cost per window for the agent: one feature vector through onnxruntime-node (shipped PCA and autoencoder),
 * against the baseline of the same PCA in plain JS, measured in the same run; plus the feature extraction of a 1 s,
 * 1 kHz vibration window (what precedes every score) and the per-file PCA fit + ONNX export as in `pdm eval skab`.
 */
export async function run(report: Report): Promise<void> {
  const dir = fileURLToPath(new URL('../../../models/default/', import.meta.url));
  const pca = await OnnxModelRuntime.load(`${dir}pump-vibration-pca.card.json`);
  const ae = await OnnxModelRuntime.load(`${dir}pump-vibration-ae.card.json`);
  const window = Float64Array.from({ length: 1000 }, (_, i) => 0.7 * Math.sin(i * 0.155) + 0.1 * Math.sin(i * 1.7));
  const row = vibrationFeatures(window);

  const train = Array.from({ length: 400 }, (_, i) => row.map((x, j) => x * (1 + 0.01 * Math.sin(i * (j + 1)))));
  const model = fitPca(train);
  const card = buildPcaArtifact({
    id: 'bench',
    version: '1',
    model,
    featureNames: pca.card.features.names,
    pipeline: { smooth: 1 },
    decision: { openAfter: 1, clearAfter: 1, clearRatio: 1 },
    training: { source: 'bench', rows: 400, durationMs: 0, summary: {} },
  }).card;
  const js = new PcaJsRuntime(card, model);

  const baseline = await meanMicros(() => js.score([row]));
  const onnxPca = await meanMicros(() => pca.score([row]));
  const onnxAe = await meanMicros(() => ae.score([row]));
  report({
    bench: 'models.score',
    metric: 'pca_onnx_score_per_window',
    value: Number(onnxPca.toFixed(2)),
    unit: 'µs',
    baseline: Number(baseline.toFixed(2)),
    ratio: Number((onnxPca / baseline).toFixed(3)),
  });
  report({
    bench: 'models.score',
    metric: 'ae_onnx_score_per_window',
    value: Number(onnxAe.toFixed(2)),
    unit: 'µs',
    baseline: Number(baseline.toFixed(2)),
    ratio: Number((onnxAe / baseline).toFixed(3)),
  });
  const batch = Array.from({ length: 600 }, () => row);
  const perRowBatched = (await meanMicros(() => pca.score(batch))) / batch.length;
  report({
    bench: 'models.score',
    metric: 'pca_onnx_score_per_window_batch600',
    value: Number(perRowBatched.toFixed(3)),
    unit: 'µs',
    baseline: Number(onnxPca.toFixed(2)),
    ratio: Number((perRowBatched / onnxPca).toFixed(4)),
  });
  const features = await meanMicros(async () => vibrationFeatures(window));
  report({
    bench: 'models.score',
    metric: 'vibration_features_1s_1kHz',
    value: Number(features.toFixed(2)),
    unit: 'µs',
  });

  const fit = await meanMicros(async () => {
    const m = fitPca(train);
    const a = buildPcaArtifact({
      id: 'bench',
      version: '1',
      model: m,
      featureNames: pca.card.features.names,
      pipeline: { smooth: 1 },
      decision: { openAfter: 1, clearAfter: 1, clearRatio: 1 },
      training: { source: 'bench', rows: 400, durationMs: 0, summary: {} },
    });
    await (await OnnxModelRuntime.fromArtifact(a)).close();
  });
  report({
    bench: 'models.score',
    metric: 'pca_fit_export_load_400_rows',
    value: Number((fit / 1000).toFixed(2)),
    unit: 'ms',
  });
  await Promise.all([pca.close(), ae.close()]);
}
