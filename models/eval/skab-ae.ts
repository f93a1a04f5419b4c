import { performance } from 'node:perf_hooks';
import { labelScores } from '../decision.js';
import { computeFeatures } from '../features.js';
import { slidingWindows, trainAutoencoder, type AutoencoderOptions } from '../detectors/autoencoder.js';
import { buildAeArtifact } from '../detectors/ae-artifact.js';
import { OnnxModelRuntime } from '../runtime.js';
import type { SkabFile } from '../skab-data.js';
import { SKAB_PCA, selectColumns, type PcaDetectorConfig } from './skab-detectors.js';
import type { SkabDetector } from './skab.js';

export interface AeDetectorConfig extends Omit<PcaDetectorConfig, 'pca'> {
  ae: AutoencoderOptions;
}

/** Same sensors, smoothing and decision as our PCA, so the two differ only in the model. */
export const SKAB_AE: AeDetectorConfig = {
  name: 'dense-ae (ours)',
  sensors: SKAB_PCA.sensors,
  features: SKAB_PCA.features,
  decision: SKAB_PCA.decision,
  ae: { window: 3, hidden: [12], code: 3, epochs: 40, batchSize: 32, learningRate: 0.003, seed: 42, limitQuantile: 0.99, limitFactor: 3 },
};

/** Trains the autoencoder per file with TensorFlow.js, exports ONNX, scores test windows through onnxruntime-node. */
export function aeOnnxDetector(config: AeDetectorConfig): SkabDetector {
  return {
    name: config.name,
    async run(file: SkabFile, trainRows: number) {
      const t0 = performance.now();
      const features = computeFeatures(selectColumns(file.rows, config.sensors), config.features);
      const train = features.slice(Math.min(config.features.smooth - 1, trainRows - 2), trainRows);
      const model = await trainAutoencoder(train, config.ae);
      const artifact = buildAeArtifact({
        id: 'skab-ae',
        version: file.name,
        model,
        featureNames: config.sensors.map((s) => `${s}.mean${config.features.smooth}`),
        pipeline: config.features,
        decision: config.decision,
        training: { source: `SKAB ${file.name} rows 0-${trainRows - 1}`, rows: train.length, durationMs: 0, summary: {} },
      });
      const runtime = await OnnxModelRuntime.fromArtifact(artifact);
      const t1 = performance.now();
      // The window ending at test row i starts window − 1 rows earlier (inside the training part for the first rows).
      const w = config.ae.window;
      const windows = slidingWindows(features.slice(trainRows - w + 1), w);
      const scores = await runtime.score(windows);
      const t2 = performance.now();
      await runtime.close();
      return { labels: labelScores(scores.map((s) => s.score), { threshold: 1, ...config.decision }), fitMs: t1 - t0, scoreMs: t2 - t1 };
    },
  };
}
