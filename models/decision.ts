import { z } from 'zod';
import type { Severity } from '../protocol/messages.js';

/** The decision rule as a card or a detector profile states it (threshold and severity come from the model). */
export const DecisionRuleSchema = z
  .strictObject({
    openAfter: z.number().int().positive(),
    openWindow: z.number().int().positive().optional(),
    clearAfter: z.number().int().positive(),
    clearRatio: z.number().positive(),
    peakClearRatio: z.number().gt(0).lt(1).optional(),
    rearmHalfLife: z.number().positive().optional(),
    holdOff: z.number().int().nonnegative().optional(),
  })
  .refine((d) => d.openWindow === undefined || d.openWindow >= d.openAfter, {
    message: 'openWindow (M) must be at least openAfter (N)',
    path: ['openWindow'],
  });
export type DecisionRule = z.output<typeof DecisionRuleSchema>;

/**
 * The one decision rule, shared by the agent (live) and the evaluation harness (offline), so a benchmark scores what
 * devices actually decide.
 */
export interface DecisionPolicy {
  threshold: number;
  criticalRatio: number;
  clearRatio: number;
  /** N: windows over the threshold, among the last `openWindow` (M), that open an episode (debounce). */
  openAfter: number;
  /** M; when absent, M = N: N windows in a row. */
  openWindow?: number | undefined;
  clearAfter: number;
  /**
   * Relative clear, off when absent: an episode also ends after `clearAfter` windows in a row under this fraction of
   * its peak score. A large fault that has fallen back by that much is over even when the machine settles at a new
   * operating point still above the threshold (warm water, a changed valve position); without it the alarm stays on
   * for as long as that new point lasts. The next episode then needs a score over the same fraction of the old peak
   * (the re-arm bar), a bar that halves every `rearmHalfLife` windows, so a lasting offset is raised again later.
   */
  peakClearRatio?: number | undefined;
  /** Windows for the re-arm bar to halve; default 300 (five minutes of one-second windows). */
  rearmHalfLife?: number | undefined;
  /** Windows after a clear during which no episode opens (anti-flap); default 0. */
  holdOff?: number | undefined;
}

export type Decision =
  | { kind: 'anomaly'; severity: Severity; peak: number }
  | { kind: 'clear'; severity: Severity; peak: number }
  | undefined;

export const DEFAULT_REARM_HALF_LIFE = 300;

function checkPolicy(policy: DecisionPolicy): void {
  const m = policy.openWindow ?? policy.openAfter;
  if (m < policy.openAfter) throw new RangeError(`openWindow ${m} is smaller than openAfter ${policy.openAfter}`);
  const { peakClearRatio: p, rearmHalfLife: h, holdOff } = policy;
  if (p !== undefined && !(p > 0 && p < 1)) throw new RangeError(`peakClearRatio must be in (0, 1), got ${p}`);
  if (h !== undefined && !(h > 0)) throw new RangeError(`rearmHalfLife must be a positive number of windows, got ${h}`);
  if (holdOff !== undefined && !(Number.isInteger(holdOff) && holdOff >= 0))
    throw new RangeError(`holdOff must be a whole number of windows >= 0, got ${holdOff}`);
}

/**
 * Pure episode logic: an episode opens when N of the last M windows were at or over the threshold (debounce), and
 * closes after `clearAfter` windows in a row under threshold × clearRatio (hysteresis), or under peakClearRatio × its
 * peak when that is set. One `anomaly` per episode, one `clear` when it ends; nothing in between.
 */
export class EpisodeDecider {
  private readonly recent: boolean[];
  private readonly rearmDecay: number;
  private next_ = 0;
  private overInWindow = 0;
  private under = 0;
  private open = false;
  private peak = 0;
  /** The re-arm bar as a multiple of the threshold in force when the last episode ended (0: none). */
  private rearm = 0;
  private holdLeft = 0;

  constructor(private readonly policy: DecisionPolicy) {
    checkPolicy(policy);
    this.recent = new Array<boolean>(policy.openWindow ?? policy.openAfter).fill(false);
    this.rearmDecay = 0.5 ** (1 / (policy.rearmHalfLife ?? DEFAULT_REARM_HALF_LIFE));
  }

  get inEpisode(): boolean {
    return this.open;
  }

  severityOf(score: number, threshold = this.policy.threshold): Severity {
    return score >= threshold * this.policy.criticalRatio ? 'critical' : 'warning';
  }

  /** `threshold` overrides the policy's for this window: a swapped-in model brings its own. */
  next(score: number, threshold = this.policy.threshold): Decision {
    return this.open ? this.whileOpen(score, threshold) : this.whileClosed(score, threshold);
  }

  private whileClosed(score: number, threshold: number): Decision {
    this.rearm *= this.rearmDecay;
    const armed = this.holdLeft === 0 && score >= threshold * this.rearm;
    if (this.holdLeft > 0) this.holdLeft--;
    const over = armed && score >= threshold;
    this.overInWindow += Number(over) - Number(this.recent[this.next_]);
    this.recent[this.next_] = over;
    this.next_ = (this.next_ + 1) % this.recent.length;
    if (this.overInWindow < this.policy.openAfter) return undefined;
    this.open = true;
    this.under = 0;
    this.peak = score;
    return { kind: 'anomaly', severity: this.severityOf(score, threshold), peak: score };
  }

  private whileOpen(score: number, threshold: number): Decision {
    const { clearRatio, clearAfter, peakClearRatio } = this.policy;
    this.peak = Math.max(this.peak, score);
    const clearLevel = Math.max(threshold * clearRatio, peakClearRatio === undefined ? 0 : this.peak * peakClearRatio);
    this.under = score < clearLevel ? this.under + 1 : 0;
    if (this.under < clearAfter) return undefined;
    this.open = false;
    this.recent.fill(false);
    this.overInWindow = 0;
    this.rearm = peakClearRatio === undefined ? 0 : (this.peak * peakClearRatio) / threshold;
    this.holdLeft = this.policy.holdOff ?? 0;
    return { kind: 'clear', severity: this.severityOf(this.peak, threshold), peak: this.peak };
  }
}

export type LabelPolicy = Omit<DecisionPolicy, 'criticalRatio'>;

/**
 * Turns a score stream into 0/1 labels with the agent's decision: rows are labelled 1 from the row that opens an
 * episode to the row before it closes, so the label is known at the row itself (no look-ahead).
 */
export function labelScores(scores: readonly number[], p: LabelPolicy): number[] {
  const decider = new EpisodeDecider({ ...p, criticalRatio: Infinity });
  return scores.map((s) => {
    decider.next(s);
    return decider.inEpisode ? 1 : 0;
  });
}
