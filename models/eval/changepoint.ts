/**
 * SKAB's changepoint score (NAB-style, as in the SKAB leaderboard): each true changepoint opens a window
 * [cp, cp + windowMs]; the first predicted changepoint inside a window earns a tanh-shaped reward that falls from A_tp
 * at the window's start to A_fp at its end; later detections in the same window are ignored; a predicted changepoint
 * outside every window costs A_fp; a window without any costs A_fn.
 */
export interface CpProfile {
  tp: number;
  fp: number;
  fn: number;
}

export const CP_PROFILES = {
  standard: { tp: 1, fp: -0.11, fn: -1 },
  lowFP: { tp: 1, fp: -0.22, fn: -1 },
  lowFN: { tp: 1, fp: -0.11, fn: -2 },
} as const satisfies Record<string, CpProfile>;

export type CpProfileName = keyof typeof CP_PROFILES;

/** Predicted changepoints: 0→1 and 1→0 transitions; the first row counts when it is 1. */
export function transitions(predicted: readonly number[]): number[] {
  return predicted.map((p, i) => (i === 0 ? (p === 1 ? 1 : 0) : p !== predicted[i - 1] ? 1 : 0));
}

/** Row index ranges [start, end] (inclusive) of the windows opened by the true changepoints of one file. */
export function changepointWindows(
  times: readonly number[],
  truthCp: readonly number[],
  windowMs: number,
): Array<[number, number]> {
  const starts: number[] = [];
  truthCp.forEach((c, i) => c === 1 && starts.push(i));
  return starts.map((start, k) => {
    // Overlapping windows: the earlier one is cut just before the next changepoint, so no row belongs to two windows.
    const limit = k + 1 < starts.length ? starts[k + 1]! - 1 : times.length - 1;
    let end = start;
    while (end + 1 <= limit && times[end + 1]! - times[start]! <= windowMs) end++;
    return [start, end];
  });
}

/** Reward of a detection at position `pos` (0-based) in a window of `len` rows: x spaced evenly over [−π/2, π/2]. */
export function tanhReward(pos: number, len: number, p: CpProfile): number {
  const x = len <= 1 ? -Math.PI / 2 : -Math.PI / 2 + (Math.PI * pos) / (len - 1);
  const half = (p.tp - p.fp) / 2;
  return half * (-Math.tanh(x) / Math.tanh(Math.PI / 2)) + half + p.fp;
}

export interface CpFileScore {
  score: number;
  windows: number;
}

/** Raw score of one file's predicted changepoints (0/1 per row) against its windows. */
export function scoreChangepoints(
  windows: ReadonlyArray<[number, number]>,
  predictedCp: readonly number[],
  p: CpProfile,
): CpFileScore {
  let score = 0;
  const inWindow = new Array<boolean>(predictedCp.length).fill(false);
  for (const [start, end] of windows) {
    let first = -1;
    for (let i = start; i <= end; i++) {
      inWindow[i] = true;
      if (first < 0 && predictedCp[i] === 1) first = i;
    }
    score += first < 0 ? p.fn : tanhReward(first - start, end - start + 1, p);
  }
  predictedCp.forEach((c, i) => {
    if (c === 1 && !inWindow[i]) score += p.fp;
  });
  return { score, windows: windows.length };
}

/** 100·(S − S_null)/(S_perfect − S_null) with S_null = n·A_fn and S_perfect = n·A_tp over all n windows. */
export function normaliseCp(files: readonly CpFileScore[], p: CpProfile): number {
  const n = files.reduce((sum, f) => sum + f.windows, 0);
  const s = files.reduce((sum, f) => sum + f.score, 0);
  if (n === 0) return 0;
  return (100 * (s - n * p.fn)) / (n * p.tp - n * p.fn);
}
