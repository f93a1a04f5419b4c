import { slidingWindows, trainAutoencoder, type AutoencoderOptions } from '../detectors/autoencoder.js';
import { buildAeArtifact } from '../detectors/ae-artifact.js';
import type { SkabFile } from '../skab-data.js';
import { runOnnxDetector, SKAB_PCA, type PcaDetectorConfig } from './skab-detectors.js';
import type { SkabDetector } from './skab.js';

export interface AeDetectorConfig extends Omit<PcaDetectorConfig, 'pca'> {
  ae: AutoencoderOptions;
}

/** Same sensors, smoothing, limit rule (1.5 × the 0.99 training quantile) and decision as our PCA: only the model differs. */
export const SKAB_AE: AeDetectorConfig = {
  name: 'dense-ae (ours)',
  sensors: SKAB_PCA.sensors,
  features: SKAB_PCA.features,
  decision: SKAB_PCA.decision,
  ae: {
    window: 3,
    hidden: [12],
    code: 3,
    epochs: 40,
    batchSize: 32,
    learningRate: 0.003,
    seed: 42,
    limitQuantile: 0.99,
    limitFactor: 1.5,
  },
};

/** Trains the autoencoder per file with TensorFlow.js, exports ONNX, scores test windows through onnxruntime-node. */
export function aeOnnxDetector(config: AeDetectorConfig): SkabDetector {
  const w = config.ae.window;
  return {
    name: config.name,
    run: (file: SkabFile, trainRows: number) =>
      runOnnxDetector(
        config,
        file,
        trainRows,
        async (train, common) =>
          buildAeArtifact({
            id: 'skab-ae',
            version: file.name,
            model: await trainAutoencoder(train, config.ae),
            ...common,
          }),
        // The window ending at test row i starts window − 1 rows earlier (inside the training part for the first rows).
        (features) => slidingWindows(features.slice(trainRows - w + 1), w),
      ),
  };
}
