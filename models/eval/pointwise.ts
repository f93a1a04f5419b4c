/** Point-wise confusion counts, summed over the test parts of all files (the SKAB protocol pools them). */
export interface Counts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export const emptyCounts = (): Counts => ({ tp: 0, fp: 0, tn: 0, fn: 0 });

export function addCounts(into: Counts, truth: readonly number[], predicted: readonly number[]): Counts {
  if (truth.length !== predicted.length)
    throw new Error(`labels (${truth.length}) and predictions (${predicted.length}) differ in length`);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] === 1;
    const p = predicted[i] === 1;
    if (t && p) into.tp++;
    else if (!t && p) into.fp++;
    else if (t && !p) into.fn++;
    else into.tn++;
  }
  return into;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export interface PointwiseScores {
  f1: number;
  /** False alarm rate, percent. */
  far: number;
  /** Missed alarm rate, percent. */
  mar: number;
}

/** SKAB's definitions: F1 = TP/(TP + (FN+FP)/2), FAR = 100·FP/(FP+TN), MAR = 100·FN/(FN+TP); each rounded to 2 decimals. */
export function pointwiseScores(c: Counts): PointwiseScores {
  const f1Den = c.tp + (c.fn + c.fp) / 2;
  return {
    f1: round2(f1Den === 0 ? 0 : c.tp / f1Den),
    far: round2(c.fp + c.tn === 0 ? 0 : (100 * c.fp) / (c.fp + c.tn)),
    mar: round2(c.fn + c.tp === 0 ? 0 : (100 * c.fn) / (c.fn + c.tp)),
  };
}
