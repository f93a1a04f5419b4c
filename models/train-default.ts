import { performance } from 'node:perf_hooks';
import type { ModelArtifact } from './artifacts.js';
import { DEFAULT_AE_OPTIONS, scoreAutoencoder, trainAutoencoder } from './detectors/autoencoder.js';
import { buildAeArtifact } from './detectors/ae-artifact.js';
import { fitPca, scorePca, type PcaModel } from './detectors/pca.js';
import { buildPcaArtifact } from './detectors/pca-artifact.js';
import { referenceDistribution } from './distribution.js';
import { VIBRATION_FEATURES } from './vibration-features.js';

/** Feature rows of healthy operation, plus a labelled faulty run to report detection figures on the card. */
export interface DefaultTrainingData {
  source: string;
  healthy: number[][];
  check: { rows: number[][]; faulty: boolean[] };
  seed: number;
}

export const DEFAULT_DECISION = { openAfter: 3, clearAfter: 5, clearRatio: 0.8 };
const FEATURE_NAMES = VIBRATION_FEATURES.map((f) => `vibration.${f}`);

/** Share of faulty rows flagged and of healthy rows flagged, one row at a time (no debounce). */
function detectionFigures(
  score: (row: number[]) => number,
  check: DefaultTrainingData['check'],
): Record<string, number> {
  let hit = 0;
  let faulty = 0;
  let falseAlarm = 0;
  let healthy = 0;
  check.rows.forEach((row, i) => {
    const over = score(row) >= 1;
    if (check.faulty[i]) {
      faulty++;
      hit += over ? 1 : 0;
    } else {
      healthy++;
      falseAlarm += over ? 1 : 0;
    }
  });
  return {
    detectionRate: Number((hit / Math.max(1, faulty)).toFixed(4)),
    falseAlarmRate: Number((falseAlarm / Math.max(1, healthy)).toFixed(4)),
  };
}

/** The shipped PCA model: deterministic (no randomness in the fit), so its ONNX bytes are reproducible. */
export function trainDefaultPca(
  data: DefaultTrainingData,
  createdAt: Date,
): { artifact: ModelArtifact; model: PcaModel; ms: number } {
  const t0 = performance.now();
  const model = fitPca(data.healthy, { varianceKept: 0.95, limitQuantile: 0.999, limitFactor: 1.5 });
  const ms = performance.now() - t0;
  const artifact = buildPcaArtifact({
    id: 'pump-vibration-pca',
    version: '1.0.0',
    model,
    featureNames: FEATURE_NAMES,
    pipeline: { smooth: 1 },
    decision: DEFAULT_DECISION,
    training: {
      source: data.source,
      rows: data.healthy.length,
      seed: data.seed,
      durationMs: Math.round(ms),
      summary: summaryOf(data),
    },
    metrics: detectionFigures((row) => scorePca(model, row).score, data.check),
    createdAt,
    distribution: referenceDistribution(
      FEATURE_NAMES,
      data.healthy,
      data.healthy.map((row) => scorePca(model, row).score),
    ),
  });
  return { artifact, model, ms };
}

const summaryOf = (data: DefaultTrainingData) => ({
  healthyRows: data.healthy.length,
  checkRows: data.check.rows.length,
});

/** Trains the two shipped models (PCA T²/Q and a dense autoencoder) on the same healthy feature rows. */
export async function trainDefaultModels(
  data: DefaultTrainingData,
  log: (line: string) => void,
  createdAt: Date,
): Promise<ModelArtifact[]> {
  log(`PCA T²/Q on ${data.healthy.length} healthy windows x ${FEATURE_NAMES.length} features...`);
  const pca = trainDefaultPca(data, createdAt);
  log(
    `  ${pca.model.components.length} components, ${(100 * pca.model.explainedVariance).toFixed(1)}% variance, ${pca.ms.toFixed(0)} ms`,
  );

  const options = {
    ...DEFAULT_AE_OPTIONS,
    window: 1,
    hidden: [16],
    code: 3,
    epochs: 60,
    seed: data.seed,
    limitQuantile: 0.999,
    limitFactor: 1.5,
  };
  log(
    `dense autoencoder ${FEATURE_NAMES.length}-16-3-16-${FEATURE_NAMES.length}, ${options.epochs} epochs (TensorFlow.js)...`,
  );
  const t0 = performance.now();
  const ae = await trainAutoencoder(data.healthy, options, (epoch, loss) => {
    if (epoch % 10 === 0 || epoch === 1)
      log(`  epoch ${String(epoch).padStart(3)}/${options.epochs}  loss ${loss.toFixed(5)}`);
  });
  const aeMs = performance.now() - t0;
  const aeArtifact = buildAeArtifact({
    id: 'pump-vibration-ae',
    version: '1.0.0',
    model: ae,
    featureNames: FEATURE_NAMES,
    pipeline: { smooth: 1 },
    decision: DEFAULT_DECISION,
    training: {
      source: data.source,
      rows: data.healthy.length,
      durationMs: Math.round(aeMs),
      summary: summaryOf(data),
    },
    metrics: detectionFigures((row) => scoreAutoencoder(ae, row).score, data.check),
    createdAt,
    // window 1: each healthy row is one scored window.
    distribution: referenceDistribution(
      FEATURE_NAMES,
      data.healthy,
      data.healthy.map((row) => scoreAutoencoder(ae, row).score),
    ),
  });
  log(`  final loss ${ae.finalLoss.toFixed(5)}, ${(aeMs / 1000).toFixed(1)} s`);
  return [pca.artifact, aeArtifact];
}
