import type { Severity } from '../protocol/messages.js';

export interface DecisionPolicy {
  threshold: number;
  criticalRatio: number;
  clearRatio: number;
  openAfter: number;
  clearAfter: number;
}

export type Decision =
  | { kind: 'anomaly'; severity: Severity; peak: number }
  | { kind: 'clear'; severity: Severity; peak: number }
  | undefined;

/**
 * Pure episode logic: an episode opens after `openAfter` windows in a row at or over the threshold (debounce), and
 * closes after `clearAfter` windows in a row under threshold × clearRatio (hysteresis). One `anomaly` per episode,
 * one `clear` when it ends; nothing in between.
 */
export class EpisodeDecider {
  private over = 0;
  private under = 0;
  private open = false;
  private peak = 0;

  constructor(private readonly policy: DecisionPolicy) {}

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
      this.over = score >= threshold ? this.over + 1 : 0;
      if (this.over < openAfter) return undefined;
      this.open = true;
      this.under = 0;
      this.peak = score;
      return { kind: 'anomaly', severity: this.severityOf(score, threshold), peak: score };
    }
    this.peak = Math.max(this.peak, score);
    this.under = score < threshold * clearRatio ? this.under + 1 : 0;
    if (this.under < clearAfter) return undefined;
    this.open = false;
    this.over = 0;
    return { kind: 'clear', severity: this.severityOf(this.peak, threshold), peak: this.peak };
  }
}
