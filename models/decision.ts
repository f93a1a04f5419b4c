import type { Severity } from '../protocol/messages.js';

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
  openWindow?: number;
  clearAfter: number;
}

export type Decision =
  | { kind: 'anomaly'; severity: Severity; peak: number }
  | { kind: 'clear'; severity: Severity; peak: number }
  | undefined;

/**
 * Pure episode logic: an episode opens when N of the last M windows were at or over the threshold (debounce), and
 * closes after `clearAfter` windows in a row under threshold × clearRatio (hysteresis). One `anomaly` per episode,
 * one `clear` when it ends; nothing in between.
 */
export class EpisodeDecider {
  private readonly recent: boolean[];
  private next_ = 0;
  private overInWindow = 0;
  private under = 0;
  private open = false;
  private peak = 0;

  constructor(private readonly policy: DecisionPolicy) {
    const m = policy.openWindow ?? policy.openAfter;
    if (m < policy.openAfter) throw new RangeError(`openWindow ${m} is smaller than openAfter ${policy.openAfter}`);
    this.recent = new Array<boolean>(m).fill(false);
  }

  get inEpisode(): boolean {
    return this.open;
  }

  severityOf(score: number, threshold = this.policy.threshold): Severity {
    return score >= threshold * this.policy.criticalRatio ? 'critical' : 'warning';
  }

  /** `threshold` overrides the policy's for this window: a swapped-in model brings its own. */
  next(score: number, threshold = this.policy.threshold): Decision {
    const { clearRatio, openAfter, clearAfter } = this.policy;
    if (!this.open) {
      const over = score >= threshold;
      this.overInWindow += Number(over) - Number(this.recent[this.next_]);
      this.recent[this.next_] = over;
      this.next_ = (this.next_ + 1) % this.recent.length;
      if (this.overInWindow < openAfter) return undefined;
      this.open = true;
      this.under = 0;
      this.peak = score;
      return { kind: 'anomaly', severity: this.severityOf(score, threshold), peak: score };
    }
    this.peak = Math.max(this.peak, score);
    this.under = score < threshold * clearRatio ? this.under + 1 : 0;
    if (this.under < clearAfter) return undefined;
    this.open = false;
    this.recent.fill(false);
    this.overInWindow = 0;
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
