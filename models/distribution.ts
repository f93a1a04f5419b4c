import { z } from 'zod';

/**
 * A compact reference distribution of what a model was trained on, stored in its card (`training.distribution`) so
 * the hub can tell when a device's recent data no longer looks like it (drift, measured with the PSI).
 *
 * Each feature (and the score) gets bin edges at its training quantiles and the share of training values in each bin.
 * `edges` are the inner edges, strictly increasing; bin i holds values v with edges[i-1] < v <= edges[i], the first
 * bin everything up to edges[0] and the last everything above the last edge, so any finite value has a bin.
 */
export const DEFAULT_DISTRIBUTION_BINS = 10;

/** Edges are rounded to this many significant digits (a compact card); shares are counted with the rounded edges. */
const EDGE_DIGITS = 6;

export const BinnedDistribution = z
  .strictObject({
    edges: z.array(z.number().finite()),
    proportions: z.array(z.number().min(0).max(1)).min(1),
  })
  .superRefine((d, ctx) => {
    if (d.proportions.length !== d.edges.length + 1) {
      ctx.addIssue({
        code: 'custom',
        message: `${d.edges.length} edges need ${d.edges.length + 1} proportions, got ${d.proportions.length}`,
        path: ['proportions'],
      });
    }
    for (let i = 1; i < d.edges.length; i++) {
      if (!(d.edges[i]! > d.edges[i - 1]!)) {
        ctx.addIssue({
          code: 'custom',
          message: `edges must increase strictly (edges[${i}] = ${d.edges[i]} after ${d.edges[i - 1]})`,
          path: ['edges', i],
        });
        break;
      }
    }
    const total = d.proportions.reduce((a, b) => a + b, 0);
    if (Math.abs(total - 1) > 1e-3)
      ctx.addIssue({ code: 'custom', message: `proportions must sum to 1, got ${total}`, path: ['proportions'] });
  });
export type BinnedDistribution = z.infer<typeof BinnedDistribution>;

export const ReferenceDistribution = z.strictObject({
  /** Bins asked for; a feature with many equal training values can have fewer (equal quantiles merge). */
  bins: z.number().int().min(2).max(100),
  /** Training values behind the shares (rows for features, scored windows for the score). */
  rows: z.number().int().positive(),
  features: z.record(z.string().min(1), BinnedDistribution),
  score: BinnedDistribution,
});
export type ReferenceDistribution = z.infer<typeof ReferenceDistribution>;

const round = (x: number): number => Number(x.toPrecision(EDGE_DIGITS));

/** Quantile q of sorted values, linear interpolation between order statistics. */
function quantileSorted(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The bin of a value: the number of edges strictly below it (binary search). */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Quantile edges and training shares for one series of values (non-finite values are an error: training data is clean). */
export function binValues(values: readonly number[], bins: number, what = 'values'): BinnedDistribution {
  if (values.length === 0) throw new Error(`${what}: no training values to build a distribution from`);
  if (!Number.isInteger(bins) || bins < 2) throw new Error(`${what}: bins must be an integer >= 2, got ${bins}`);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${what}: value ${bad} is ${values[bad]}, expected a finite number`);
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = round(quantileSorted(sorted, i / bins));
    if (edges.length === 0 || edge > edges.at(-1)!) edges.push(edge);
  }
  // An edge at (or above) the maximum would leave an always-empty last bin.
  while (edges.length > 0 && edges.at(-1)! >= sorted.at(-1)!) edges.pop();
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binIndex(edges, v)]! += 1;
  return { edges, proportions: counts.map((c) => Number((c / values.length).toFixed(6))) };
}

/**
 * The card's `training.distribution`: feature rows (one value per name, in `names` order) and the training scores
 * (one per scored window; for a windowed model fewer than rows).
 */
export function referenceDistribution(
  names: readonly string[],
  rows: readonly (readonly number[])[],
  scores: readonly number[],
  bins = DEFAULT_DISTRIBUTION_BINS,
): ReferenceDistribution {
  if (rows.length === 0) throw new Error('no training rows to build a distribution from');
  rows.forEach((row, i) => {
    if (row.length !== names.length)
      throw new Error(`training row ${i} has ${row.length} values for ${names.length} feature names`);
  });
  const features: Record<string, BinnedDistribution> = {};
  names.forEach((name, j) => {
    features[name] = binValues(
      rows.map((r) => r[j]!),
      bins,
      `feature ${name}`,
    );
  });
  return { bins, rows: rows.length, features, score: binValues(scores, bins, 'score') };
}
