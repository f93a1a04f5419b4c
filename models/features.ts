/**
 * Feature pipeline shared by training, evaluation and the agent: a causal rolling mean of each sensor over the last
 * `smooth` rows (rows before the first use what is there). Causal so that a streaming agent computes exactly the same
 * values as the offline evaluation; smoothing because SKAB's 1 Hz sensors are noisy compared with the faults.
 */
export interface FeatureSpec {
  smooth: number;
}

export function rollingMean(rows: readonly number[][], smooth: number): number[][] {
  if (!Number.isInteger(smooth) || smooth < 1) throw new Error(`smooth must be a positive integer, got ${smooth}`);
  const d = rows[0]?.length ?? 0;
  const sum = new Array<number>(d).fill(0);
  return rows.map((row, i) => {
    for (let j = 0; j < d; j++) sum[j]! += row[j]!;
    if (i >= smooth) for (let j = 0; j < d; j++) sum[j]! -= rows[i - smooth]![j]!;
    const n = Math.min(i + 1, smooth);
    return sum.map((s) => s / n);
  });
}

export function computeFeatures(rows: readonly number[][], spec: FeatureSpec): number[][] {
  return rollingMean(rows, spec.smooth);
}
