import { fitPca, type PcaModel } from '../detectors/pca.js';
import { columnMeans } from '../linalg.js';
import type { DetectorProfile } from './profile.js';

/**
 * A model fitted to the commissioning rows. `statistics` gives one or more distances from normal (each gets its own
 * calibrated limit); `contributions` splits the score between the features.
 */
export interface FittedModel {
  readonly statisticNames: readonly string[];
  statistics(row: readonly number[]): number[];
  /** Per feature, its part of the score once each statistic is divided by its limit. */
  contributions(row: readonly number[], limits: readonly number[]): number[];
  toJSON(): FittedModelState;
}

export type FittedModelState =
  | { kind: 'diagonal'; mean: number[]; scale: number[] }
  | { kind: 'pca'; mean: number[]; scale: number[]; components: number[][]; eigenvalues: number[] };

/** Mean squared z-score over the features: Mahalanobis distance with a diagonal covariance. */
class DiagonalModel implements FittedModel {
  readonly statisticNames = ['d2'];
  constructor(private readonly state: Extract<FittedModelState, { kind: 'diagonal' }>) {}

  statistics(row: readonly number[]): number[] {
    let sum = 0;
    for (let i = 0; i < row.length; i++) sum += ((row[i]! - this.state.mean[i]!) / this.state.scale[i]!) ** 2;
    return [sum / row.length];
  }

  contributions(row: readonly number[], limits: readonly number[]): number[] {
    return row.map((x, i) => ((x - this.state.mean[i]!) / this.state.scale[i]!) ** 2 / row.length / limits[0]!);
  }

  toJSON(): FittedModelState {
    return this.state;
  }
}

/** Hotelling's T² in the kept principal subspace and Q (squared residual) outside it. */
class PcaStatModel implements FittedModel {
  readonly statisticNames = ['t2', 'q'];
  constructor(private readonly state: Extract<FittedModelState, { kind: 'pca' }>) {}

  private project(row: readonly number[]): { z: number[]; t: number[]; residual: number[] } {
    const { mean, scale, components } = this.state;
    const z = row.map((x, j) => (x - mean[j]!) / scale[j]!);
    const t = components.map((p) => p.reduce((s, pj, j) => s + pj * z[j]!, 0));
    const residual = z.map((zj, j) => zj - components.reduce((s, p, c) => s + t[c]! * p[j]!, 0));
    return { z, t, residual };
  }

  statistics(row: readonly number[]): number[] {
    const { t, residual } = this.project(row);
    const t2 = t.reduce((s, tc, c) => s + (tc * tc) / this.state.eigenvalues[c]!, 0);
    return [t2, residual.reduce((s, r) => s + r * r, 0)];
  }

  contributions(row: readonly number[], limits: readonly number[]): number[] {
    const { z, t, residual } = this.project(row);
    const { components, eigenvalues } = this.state;
    return z.map((zj, j) => {
      const t2Part = zj * components.reduce((s, p, c) => s + (t[c]! / eigenvalues[c]!) * p[j]!, 0);
      return t2Part / limits[0]! + (residual[j]! * residual[j]!) / limits[1]!;
    });
  }

  toJSON(): FittedModelState {
    return this.state;
  }
}

export function fitModel(
  spec: Exclude<DetectorProfile['model'], { kind: 'streaming' }>,
  rows: readonly number[][],
): FittedModel {
  if (spec.kind === 'pca') {
    const m: PcaModel = fitPca(rows, { varianceKept: spec.varianceKept, limitQuantile: 1, limitFactor: 1 });
    return new PcaStatModel({
      kind: 'pca',
      mean: m.mean,
      scale: m.scale,
      components: m.components,
      eigenvalues: m.eigenvalues,
    });
  }
  const mean = columnMeans(rows);
  const scale = mean.map((mu, j) => {
    const variance = rows.reduce((s, r) => s + (r[j]! - mu) ** 2, 0) / Math.max(1, rows.length - 1);
    return Math.max(Math.sqrt(variance), spec.stdFloorRatio * Math.abs(mu), 1e-12);
  });
  return new DiagonalModel({ kind: 'diagonal', mean, scale });
}

export function restoreModel(state: FittedModelState): FittedModel {
  return state.kind === 'pca' ? new PcaStatModel(state) : new DiagonalModel(state);
}
