import { PdmError } from '../../protocol/errors.js';

/**
 * Online detectors for univariate streams (NAB, the agent's scalar channels): each sees one value at a time and
 * returns an anomaly score in [0, 1] computed only from the past. Learning during the probationary (commissioning)
 * period is allowed and simply happens here.
 */
export interface StreamingDetector {
  readonly name: string;
  /** Score for this value, then learn from it. `t` (epoch ms) is optional and may be ignored. */
  next(value: number, t?: number): number;
}

/**
 * What a detector may know before the first row. NAB passes the file's inputMin/inputMax and its probationary length;
 * the agent passes a channel's configured plausible range (possibly absent, or far wider than the data) and its
 * commissioning length.
 */
export interface StreamingContext {
  min?: number;
  max?: number;
  /** Rows at the start that only train (not scored by NAB; commissioning on the agent). */
  probation: number;
}

/** Makes one fresh detector per series. */
export type StreamingDetectorFactory = (context: StreamingContext) => StreamingDetector;

/** Refuses NaN and ±Infinity: one of them would poison every statistic after it. */
export function checkSample(detector: string, value: number): void {
  if (!Number.isFinite(value))
    throw new PdmError('PDM_ERR_BAD_SAMPLE', `${detector}: value ${value} is not a finite number`);
}

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for a score. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/**
 * The agent's statistical baseline on one channel: exponentially weighted mean and variance (half-life `halfLife`
 * rows), score = erf(|z|/√2) = P(|Z| < |z|) for a Gaussian, so 0.99 means a 2.6σ excursion.
 */
export class EwmaZScore implements StreamingDetector {
  readonly name: string;
  private mean = 0;
  private variance = 0;
  private seen = 0;
  private readonly alpha: number;

  constructor(halfLife = 200) {
    this.name = `ewma-z(h=${halfLife})`;
    this.alpha = 1 - Math.pow(0.5, 1 / halfLife);
  }

  next(value: number): number {
    checkSample(this.name, value);
    let score = 0;
    if (this.seen >= 2 && this.variance > 0)
      score = erf(Math.abs(value - this.mean) / Math.sqrt(this.variance) / Math.SQRT2);
    // Welford-style start so the first rows do not leave the estimate biased towards 0.
    const a = Math.max(this.alpha, 1 / (this.seen + 1));
    const delta = value - this.mean;
    this.mean += a * delta;
    this.variance = (1 - a) * (this.variance + a * delta * delta);
    this.seen++;
    return score;
  }
}
