import { quantile } from '../linalg.js';

export const SECONDS_PER_WEEK = 7 * 24 * 3600;

/**
 * Integrated autocorrelation time of a series, 1 + 2·Σρ(k), summed while ρ(k) stays above 0.05 (at most n/4 lags):
 * how many consecutive windows one independent observation is worth, and so how long a chance excursion lasts.
 */
export function autocorrelationTime(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 4) return 1;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  let variance = 0;
  for (const x of xs) variance += (x - mean) ** 2;
  if (!(variance > 0)) return 1;
  let tau = 1;
  for (let k = 1; k < n / 4; k++) {
    let c = 0;
    for (let i = k; i < n; i++) c += (xs[i]! - mean) * (xs[i - k]! - mean);
    const rho = c / variance;
    if (rho < 0.05) break;
    tau += 2 * rho;
  }
  return tau;
}

/**
 * The level a statistic exceeds with probability `p`, from normal data only: the empirical quantile where the data
 * holds enough points, beyond that an exponential tail fitted to the excesses over the `tailFrom` quantile
 * (peaks over threshold), since a week's worth of windows is far more than any commissioning period holds.
 */
export function tailLevel(xs: readonly number[], p: number, tailFrom = 0.9): number {
  if (xs.length === 0) throw new RangeError('tailLevel needs at least one value');
  if (!(p > 0 && p < 1)) throw new RangeError(`exceedance probability must be in (0, 1), got ${p}`);
  if (p >= 1 - tailFrom) return quantile(xs, 1 - p);
  const u = quantile(xs, tailFrom);
  let excess = 0;
  let count = 0;
  for (const x of xs) {
    if (x > u) {
      excess += x - u;
      count += 1;
    }
  }
  const beta = count > 0 ? excess / count : 0;
  return u + beta * Math.log((1 - tailFrom) / p);
}

export interface AlarmBudget {
  /** Chance alarms a user accepts per machine and week of running. */
  alarmsPerWeek: number;
  /** Seconds between scored windows. */
  hopSeconds: number;
}

/**
 * Per-window exceedance probability that spends the budget: an alarm is a cluster of exceedances about `tau` windows
 * long, so the allowed rate of exceeding windows is the weekly alarm rate × tau.
 */
export function exceedanceProbability(budget: AlarmBudget, tau: number): number {
  const windowsPerWeek = SECONDS_PER_WEEK / budget.hopSeconds;
  return Math.min(0.5, (budget.alarmsPerWeek * Math.max(1, tau)) / windowsPerWeek);
}

/**
 * A feature's level wander over `longLag` windows against its wander over `shortLag` (the ratio of the variogram at
 * the two lags). About 1 for a stationary feature whose memory is shorter than `shortLag`; a feature that drifts
 * (a temperature warming up, a slowly filling tank) scores many times that.
 */
export function driftRatio(xs: readonly number[], longLag: number, shortLag: number): number {
  const variogram = (lag: number): number => {
    let sum = 0;
    let count = 0;
    for (let i = lag; i < xs.length; i++) {
      sum += (xs[i]! - xs[i - lag]!) ** 2;
      count += 1;
    }
    return count > 0 ? sum / count : 0;
  };
  const short = variogram(shortLag);
  const long = variogram(longLag);
  if (!(short > 0)) return long > 0 ? Infinity : 1;
  return long / short;
}
