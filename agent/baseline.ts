import type { Contribution } from '../protocol/messages.js';
import type { Detector, Score } from './detector.js';

export interface BaselineOptions {
  /** Windows learnt before scoring starts (the commissioning period). */
  commissioningWindows: number;
  threshold: number;
  /** Each feature's spread is at least this share of its mean, so a near-constant feature cannot dominate. */
  stdFloorRatio: number;
  topContributions: number;
}

/** What the baseline learnt; saved after commissioning so a restart does not learn again (perhaps from a fault). */
export interface BaselineState {
  names: string[];
  count: number;
  mean: number[];
  m2: number[];
}

/**
 * A detector that needs no training data: during commissioning it learns each feature's mean and spread on this
 * device (Welford, streaming), then scores a window by its standardised distance from that normal,
 * sqrt(mean(z²)) (Mahalanobis with a diagonal covariance, robust with few commissioning windows). Each feature's
 * share of z² says why a score is high.
 */
export class BaselineDetector implements Detector {
  readonly modelId = 'streaming-baseline';
  private names: string[] = [];
  private count = 0;
  private mean = new Float64Array(0);
  private m2 = new Float64Array(0);
  private scale = new Float64Array(0);
  private z2 = new Float64Array(0);
  private order: number[] = [];

  constructor(
    private readonly opts: BaselineOptions,
    private readonly onCommissioned?: (state: BaselineState) => void,
    saved?: BaselineState,
  ) {
    if (saved && saved.count >= opts.commissioningWindows) this.restore(saved);
  }

  get modelVersion(): string {
    return `baseline-${this.count}w`;
  }

  get ready(): boolean {
    return this.count >= this.opts.commissioningWindows && this.names.length > 0;
  }

  get commissioned(): number {
    return Math.min(this.count, this.opts.commissioningWindows);
  }

  score(names: readonly string[], values: Float64Array): Score | undefined {
    if (this.names.length !== names.length || this.names.some((n, i) => n !== names[i])) this.reset(names);
    if (!this.ready) {
      this.learn(values);
      return undefined;
    }
    const d = values.length;
    let sum = 0;
    for (let i = 0; i < d; i++) {
      const z = (values[i]! - this.mean[i]!) / this.scale[i]!;
      this.z2[i] = z * z;
      sum += z * z;
    }
    const score = Math.sqrt(sum / d);
    return { score, threshold: this.opts.threshold, contributions: this.top(values, sum) };
  }

  state(): BaselineState {
    return { names: [...this.names], count: this.count, mean: [...this.mean], m2: [...this.m2] };
  }

  private top(values: Float64Array, sum: number): Contribution[] {
    const order = this.order;
    order.sort((a, b) => this.z2[b]! - this.z2[a]!);
    const out: Contribution[] = [];
    for (let k = 0; k < Math.min(this.opts.topContributions, order.length); k++) {
      const i = order[k]!;
      out.push({ feature: this.names[i]!, value: values[i]!, share: sum > 0 ? Math.min(1, this.z2[i]! / sum) : 0 });
    }
    return out;
  }

  private learn(values: Float64Array): void {
    this.count += 1;
    for (let i = 0; i < values.length; i++) {
      const delta = values[i]! - this.mean[i]!;
      this.mean[i]! += delta / this.count;
      this.m2[i]! += delta * (values[i]! - this.mean[i]!);
    }
    if (this.ready) {
      this.freeze();
      this.onCommissioned?.(this.state());
    }
  }

  private freeze(): void {
    for (let i = 0; i < this.names.length; i++) {
      const std = Math.sqrt(this.m2[i]! / Math.max(1, this.count - 1));
      this.scale[i] = Math.max(std, this.opts.stdFloorRatio * Math.abs(this.mean[i]!), 1e-12);
    }
  }

  private reset(names: readonly string[]): void {
    const d = names.length;
    this.names = [...names];
    this.count = 0;
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
    this.scale = new Float64Array(d);
    this.z2 = new Float64Array(d);
    this.order = [...Array(d).keys()];
  }

  private restore(saved: BaselineState): void {
    this.reset(saved.names);
    this.count = saved.count;
    this.mean.set(saved.mean);
    this.m2.set(saved.m2);
    this.freeze();
  }
}
