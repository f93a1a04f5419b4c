/**
 * The Numenta Anomaly Benchmark's scoring, as the issue states it (and NAB's paper): rows inside a label window earn a
 * scaled sigmoid reward that is largest at the window's start; rows after a window cost less the closer they are to it;
 * each window keeps only its best detection, or costs A_fn when missed; the first rows of each file are probationary.
 */
export interface NabProfile {
  tp: number;
  fp: number;
  fn: number;
}

export const NAB_PROFILES = {
  standard: { tp: 1, fp: 0.11, fn: 1 },
  reward_low_FP_rate: { tp: 1, fp: 0.22, fn: 1 },
  reward_low_FN_rate: { tp: 1, fp: 0.11, fn: 2 },
} as const satisfies Record<string, NabProfile>;
export type NabProfileName = keyof typeof NAB_PROFILES;

/** σ(p) = −1 for p > 3, else 2/(1 + e^(5p)) − 1. */
export function scaledSigmoid(p: number): number {
  return p > 3 ? -1 : 2 / (1 + Math.exp(5 * p)) - 1;
}

/** Rows [0, probation) are not scored: min(floor(0.15·N), 0.15·5000). */
export function probationLength(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 0.15 * 5000);
}

export interface NabFile {
  name: string;
  /** Label windows as inclusive row-index ranges, sorted and disjoint. */
  windows: Array<[number, number]>;
  /** The detector's anomaly score per row, in [0, 1]. */
  scores: readonly number[];
}

/**
 * Per row: which window it is in (−1 outside, −2 probationary) and its unscaled sigmoid weight. Inside a window the
 * weight multiplies A_tp, outside it multiplies A_fp; split this way so one pass serves every profile.
 */
export function rowWeights(
  rows: number,
  windows: ReadonlyArray<[number, number]>,
): { window: Int32Array; weight: Float64Array } {
  const window = new Int32Array(rows).fill(-1);
  const weight = new Float64Array(rows);
  const probation = probationLength(rows);
  const atStart = scaledSigmoid(-1);
  let w = 0;
  let prev: [number, number] | undefined;
  for (let i = 0; i < rows; i++) {
    while (w < windows.length && windows[w]![1] < i) prev = windows[w++];
    const current = windows[w];
    if (current && current[0] <= i) {
      const [, right] = current;
      const width = right - current[0] + 1;
      window[i] = w;
      weight[i] = scaledSigmoid(-(right - i + 1) / width) / atStart;
    } else if (!prev) {
      weight[i] = -1;
    } else {
      const width = prev[1] - prev[0] + 1;
      weight[i] = width > 1 ? scaledSigmoid(Math.abs(prev[1] - i) / (width - 1)) : -1;
    }
    if (i < probation) window[i] = -2;
  }
  return { window, weight };
}

export interface NabScore {
  raw: number;
  normalised: number;
  windows: number;
}

function normalise(raw: number, windows: number, p: NabProfile): number {
  const perfect = windows * p.tp;
  const none = -windows * p.fn;
  return perfect === none ? 0 : (100 * (raw - none)) / (perfect - none);
}

/** Corpus score at a fixed threshold: a row is a detection when its anomaly score ≥ threshold. */
export function scoreNab(files: readonly NabFile[], p: NabProfile, threshold: number): NabScore {
  let raw = 0;
  let windows = 0;
  for (const file of files) {
    const { window, weight } = rowWeights(file.scores.length, file.windows);
    const best = new Array<number | undefined>(file.windows.length).fill(undefined);
    for (let i = 0; i < file.scores.length; i++) {
      if (window[i] === -2 || !(file.scores[i]! >= threshold)) continue;
      if (window[i]! >= 0) best[window[i]!] = Math.max(best[window[i]!] ?? -Infinity, weight[i]! * p.tp);
      else raw += weight[i]! * p.fp;
    }
    for (const b of best) raw += b ?? -p.fn;
    windows += file.windows.length;
  }
  return { raw, normalised: normalise(raw, windows, p), windows };
}

/**
 * The threshold that maximises the corpus score. Exact: lowering the threshold past each distinct anomaly score adds
 * detections, and the total can be updated per added row (windows keep a running max), so one sorted sweep suffices.
 * A threshold above every score (the null detector) is a candidate too, reported as 1.0 + the largest score's gap.
 */
export function optimiseNabThreshold(files: readonly NabFile[], p: NabProfile): NabScore & { threshold: number } {
  const entries: Array<{ score: number; file: number; window: number; weight: number }> = [];
  let windows = 0;
  files.forEach((file, f) => {
    const { window, weight } = rowWeights(file.scores.length, file.windows);
    for (let i = 0; i < file.scores.length; i++) {
      if (window[i] !== -2 && Number.isFinite(file.scores[i]))
        entries.push({ score: file.scores[i]!, file: f, window: window[i]!, weight: weight[i]! });
    }
    windows += file.windows.length;
  });
  entries.sort((a, b) => b.score - a.score);
  const best = files.map((file) => new Array<number | undefined>(file.windows.length).fill(undefined));
  let raw = -windows * p.fn;
  let top = { raw, threshold: entries.length > 0 ? Math.max(1, entries[0]!.score) + 1e-9 : 1 };
  for (let k = 0; k < entries.length;) {
    const score = entries[k]!.score;
    for (; k < entries.length && entries[k]!.score === score; k++) {
      const e = entries[k]!;
      if (e.window < 0) {
        raw += e.weight * p.fp;
        continue;
      }
      const before = best[e.file]![e.window];
      const value = e.weight * p.tp;
      if (before === undefined) raw += value + p.fn;
      else if (value > before) raw += value - before;
      if (before === undefined || value > before) best[e.file]![e.window] = value;
    }
    if (raw > top.raw + 1e-12) top = { raw, threshold: score };
  }
  return { raw: top.raw, threshold: top.threshold, normalised: normalise(top.raw, windows, p), windows };
}
