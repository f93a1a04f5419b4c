import { binIndex } from '../../models/distribution.js';

interface Bucket {
  /** floor(time / bucketMs) of the values counted here. */
  index: number;
  /** Per series, counts per bin. */
  counts: Uint32Array[];
  messages: number;
}

export interface WindowTotals {
  /** Messages counted in the window. */
  messages: number;
  /** Per series: counts per bin, summed over the window's buckets (read-only views, valid until the next add). */
  counts: ReadonlyArray<ArrayLike<number>>;
  /** Per series: how many values it got (a message may lack a feature); a read-only view, valid until the next add. */
  samples: readonly number[];
}

/**
 * The recent values of several series (features, score) as counts per reference bin, in a ring of time buckets:
 * memory is buckets x series x bins counters whatever the message rate, and a bucket older than the window is
 * reused for new values. The window covers the last `buckets` buckets, so it slides in steps of `bucketMs`. Running
 * sums over the live buckets are kept as values arrive and buckets expire, so reading the totals does not re-add
 * every bucket.
 */
export class BinnedWindow {
  private readonly ring: Array<Bucket | undefined>;
  private readonly sums: Uint32Array[];
  private readonly seriesSamples: number[];
  private messages = 0;

  constructor(
    private readonly edges: ReadonlyArray<readonly number[]>,
    private readonly bucketMs: number,
    private readonly buckets: number,
  ) {
    if (!(bucketMs > 0) || !Number.isInteger(buckets) || buckets < 1)
      throw new Error(`bad window: ${buckets} buckets of ${bucketMs} ms`);
    this.ring = new Array<Bucket | undefined>(buckets).fill(undefined);
    this.sums = edges.map((e) => new Uint32Array(e.length + 1));
    this.seriesSamples = edges.map(() => 0);
  }

  /**
   * One message: a value per series (undefined or non-finite: that series has none this time). Values older than the window are
   * dropped.
   */
  add(values: ReadonlyArray<number | undefined>, at: number): void {
    const index = Math.floor(at / this.bucketMs);
    this.expire(Math.max(index, this.newestSeen));
    if (index <= this.newestSeen - this.buckets) return; // older than the window
    const slot = index % this.buckets;
    let bucket = this.ring[slot];
    if (!bucket || bucket.index !== index) {
      bucket = { index, counts: this.edges.map((e) => new Uint32Array(e.length + 1)), messages: 0 };
      this.ring[slot] = bucket;
    }
    bucket.messages += 1;
    this.messages += 1;
    for (let s = 0; s < this.edges.length; s++) {
      const v = values[s];
      if (v === undefined || !Number.isFinite(v)) continue;
      const b = binIndex(this.edges[s]!, v);
      bucket.counts[s]![b]! += 1;
      this.sums[s]![b]! += 1;
      this.seriesSamples[s]! += 1;
    }
  }

  totals(now: number): WindowTotals {
    this.expire(Math.floor(now / this.bucketMs));
    return { messages: this.messages, counts: this.sums, samples: this.seriesSamples };
  }

  private newestSeen = Number.NEGATIVE_INFINITY;

  /** Takes buckets that fell out of the window ending at bucket `newest` out of the running sums. */
  private expire(newest: number): void {
    if (newest > this.newestSeen) this.newestSeen = newest;
    for (let slot = 0; slot < this.buckets; slot++) {
      const bucket = this.ring[slot];
      if (!bucket || bucket.index > this.newestSeen - this.buckets) continue;
      this.messages -= bucket.messages;
      bucket.counts.forEach((c, s) => {
        for (let b = 0; b < c.length; b++) {
          this.sums[s]![b]! -= c[b]!;
          this.seriesSamples[s]! -= c[b]!;
        }
      });
      this.ring[slot] = undefined;
    }
  }
}
