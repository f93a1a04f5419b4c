/**
 * Population Stability Index between a reference distribution (training shares per bin) and recent counts in the
 * same bins: PSI = sum over bins of (a - e) * ln(a / e), with a and e the recent and training shares.
 *
 * An empty bin would make ln(a / e) infinite, so both shares are floored at PSI_EPSILON (1e-4, i.e. 0.01 %) before
 * the sum; the floored shares are not renormalised. With 10 bins a whole bin appearing from nothing then adds at most
 * about (a - 1e-4) * ln(a / 1e-4), large but finite.
 */
export const PSI_EPSILON = 1e-4;

/** Common practice, and the hub's defaults: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 significant. */
export const DEFAULT_WARN_PSI = 0.1;
export const DEFAULT_ALARM_PSI = 0.25;

export function psi(expected: readonly number[], counts: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  if (expected.length !== counts.length)
    throw new Error(`PSI over ${expected.length} reference bins and ${counts.length} counted bins`);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total <= 0) throw new Error('PSI of an empty sample');
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const a = Math.max(counts[i]! / total, epsilon);
    const e = Math.max(expected[i]!, epsilon);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

export type DriftLevel = 'none' | 'warn' | 'alarm';

export function levelOf(value: number, thresholds: { warnPsi: number; alarmPsi: number }): DriftLevel {
  return value >= thresholds.alarmPsi ? 'alarm' : value >= thresholds.warnPsi ? 'warn' : 'none';
}

/**
 * A flag is raised as soon as the PSI crosses a threshold but lowered only once it falls below CLEAR_RATIO times
 * that threshold, so a PSI hovering at a threshold does not flap the flag (and the log) with every message.
 */
export const CLEAR_RATIO = 0.8;
const RANK: Record<DriftLevel, number> = { none: 0, warn: 1, alarm: 2 };

export function settleLevel(
  value: number,
  previous: DriftLevel | undefined,
  thresholds: { warnPsi: number; alarmPsi: number },
): DriftLevel {
  const raw = levelOf(value, thresholds);
  if (!previous || RANK[raw] >= RANK[previous]) return raw;
  if (previous === 'alarm' && value >= thresholds.alarmPsi * CLEAR_RATIO) return 'alarm';
  return value >= thresholds.warnPsi * CLEAR_RATIO ? 'warn' : 'none';
}
