import { columnMeans, columnStds, covariance, quantile, symmetricEigen } from '../linalg.js';

/**
 * PCA monitoring with Hotelling's T² (distance inside the principal subspace) and Q / SPE (squared residual outside it).
 * Calibration rule (stated, and written into the model card): each limit = the `limitQuantile` quantile of the statistic
 * over the training rows × `limitFactor`; the model's score is max(T²/T²_limit, Q/Q_limit), so 1.0 is the threshold.
 */
export interface PcaOptions {
  /** Keep the fewest components whose eigenvalues explain at least this share of the variance. */
  varianceKept: number;
  limitQuantile: number;
  limitFactor: number;
}

export const DEFAULT_PCA_OPTIONS: PcaOptions = { varianceKept: 0.9, limitQuantile: 0.99, limitFactor: 1.5 };

export interface PcaModel {
  kind: 'pca-t2q';
  mean: number[];
  scale: number[];
  /** k × d, rows are unit principal directions in standardised space. */
  components: number[][];
  eigenvalues: number[];
  t2Limit: number;
  qLimit: number;
  options: PcaOptions;
  explainedVariance: number;
}

export interface PcaScore {
  t2: number;
  q: number;
  score: number;
  /** Per feature: its share of T²/T²_limit + Q/Q_limit (T² part may be negative, as in the usual decomposition). */
  contributions: number[];
}

export function fitPca(rows: readonly number[][], options: PcaOptions = DEFAULT_PCA_OPTIONS): PcaModel {
  if (rows.length < 2) throw new Error(`PCA needs at least 2 training rows, got ${rows.length}`);
  const mean = columnMeans(rows);
  const scale = columnStds(rows, mean);
  const z = rows.map((row) => row.map((x, j) => (x - mean[j]!) / scale[j]!));
  const eigen = symmetricEigen(covariance(z));
  const total = eigen.values.reduce((s, v) => s + v, 0) || 1;
  let k = 0;
  let kept = 0;
  // Components with (near) zero variance would make T² divide by zero; they belong in the residual.
  while (k < eigen.values.length && kept / total < options.varianceKept && eigen.values[k]! > 1e-9 * total) {
    kept += eigen.values[k]!;
    k++;
  }
  k = Math.max(1, k);
  const model: PcaModel = {
    kind: 'pca-t2q',
    mean,
    scale,
    components: eigen.vectors.slice(0, k),
    eigenvalues: eigen.values.slice(0, k).map((v) => Math.max(v, 1e-9)),
    t2Limit: 1,
    qLimit: 1,
    options,
    explainedVariance: kept / total,
  };
  roundToFloat32(model);
  const train = rows.map((row) => rawStatistics(model, row));
  model.t2Limit = Math.fround(
    Math.max(
      1e-9,
      quantile(
        train.map((s) => s.t2),
        options.limitQuantile,
      ) * options.limitFactor,
    ),
  );
  model.qLimit = Math.fround(
    Math.max(
      1e-9,
      quantile(
        train.map((s) => s.q),
        options.limitQuantile,
      ) * options.limitFactor,
    ),
  );
  return model;
}

/** ONNX stores float32: rounding the fitted parameters once makes the JS reference and the ONNX model the same model. */
function roundToFloat32(model: PcaModel): void {
  model.mean = model.mean.map(Math.fround);
  model.scale = model.scale.map(Math.fround);
  model.components = model.components.map((p) => p.map(Math.fround));
  model.eigenvalues = model.eigenvalues.map(Math.fround);
}

function rawStatistics(
  model: PcaModel,
  row: readonly number[],
): { t2: number; q: number; z: number[]; t: number[]; residual: number[] } {
  const z = row.map((x, j) => (x - model.mean[j]!) / model.scale[j]!);
  const t = model.components.map((p) => p.reduce((s, pj, j) => s + pj * z[j]!, 0));
  const residual = z.map((zj, j) => zj - model.components.reduce((s, p, c) => s + t[c]! * p[j]!, 0));
  const t2 = t.reduce((s, tc, c) => s + (tc * tc) / model.eigenvalues[c]!, 0);
  const q = residual.reduce((s, r) => s + r * r, 0);
  return { t2, q, z, t, residual };
}

/** The JS reference the ONNX export is checked against. */
export function scorePca(model: PcaModel, row: readonly number[]): PcaScore {
  const { t2, q, z, t, residual } = rawStatistics(model, row);
  const contributions = z.map((zj, j) => {
    const t2Part = zj * model.components.reduce((s, p, c) => s + (t[c]! / model.eigenvalues[c]!) * p[j]!, 0);
    return t2Part / model.t2Limit + (residual[j]! * residual[j]!) / model.qLimit;
  });
  return { t2, q, score: Math.max(t2 / model.t2Limit, q / model.qLimit), contributions };
}
