import type { Metric, Registry } from 'prom-client';

interface Series {
  /** Observations per bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram by `channel`, cheap enough for every device message: no label object, hashing or
 * validation per observation, only a bucket search; it prints the same lines as prom-client's.
 */
export class ChannelHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    if (upperBounds.some((bound, i) => !Number.isFinite(bound) || (i > 0 && bound <= upperBounds[i - 1]!))) {
      throw new RangeError(`${name}: bucket bounds must be finite and increasing, got ${upperBounds.join(', ')}`);
    }
    // The registry asks any metric only for what this class has: name, help, type, aggregator, get() and reset().
    registry.registerMetric(this as unknown as Metric);
  }

  observe(channel: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return; // a clock glitch must not poison the sum
    let series = this.series.get(channel);
    if (series === undefined) {
      series = { counts: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 };
      this.series.set(channel, series);
    }
    let i = 0;
    while (i < this.upperBounds.length && seconds > this.upperBounds[i]!) i += 1;
    series.counts[i]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** What prom-client's registry formats: cumulative buckets, then sum and count, per channel. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }>;
  }> {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    for (const [channel, series] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.upperBounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({
          value: cumulative,
          labels: { le: i < this.upperBounds.length ? this.upperBounds[i]! : '+Inf', channel },
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ value: series.sum, labels: { channel }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { channel }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
