/** Small dense linear algebra for fitting (features are few, so clarity beats speed here). */

export function columnMeans(rows: readonly number[][]): number[] {
  const d = rows[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j]! += row[j]! / rows.length;
  return mean;
}

/** Population standard deviation per column (as scikit-learn's StandardScaler); a constant column gets 1 so it stays 0. */
export function columnStds(rows: readonly number[][], mean: readonly number[]): number[] {
  const d = mean.length;
  const variance = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j++) variance[j]! += (row[j]! - mean[j]!) ** 2 / rows.length;
  return variance.map((v) => (v > 1e-12 ? Math.sqrt(v) : 1));
}

/** Sample covariance (n − 1) of already-centred rows. */
export function covariance(rows: readonly number[][]): number[][] {
  const d = rows[0]?.length ?? 0;
  const c = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const row of rows) {
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) c[i]![j]! += row[i]! * row[j]!;
  }
  const den = Math.max(1, rows.length - 1);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) c[j]![i] = c[i]![j] = c[i]![j]! / den;
  return c;
}

export interface Eigen {
  /** Descending. */
  values: number[];
  /** vectors[k] is the unit eigenvector of values[k]. */
  vectors: number[][];
}

/** Cyclic Jacobi rotations for a symmetric matrix: exact enough for d ≤ ~50 and free of dependencies. */
export function symmetricEigen(matrix: readonly number[][]): Eigen {
  const d = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v: number[][] = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) off += a[i]![j]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => a[y]![y]! - a[x]![x]!);
  return {
    values: order.map((i) => Math.max(0, a[i]![i]!)),
    vectors: order.map((i) => v.map((row) => row[i]!)),
  };
}

/** Linear-interpolated quantile (numpy's default), q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
