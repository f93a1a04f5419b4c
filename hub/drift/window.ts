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
  /** Per series: counts per bin, summed over the window's buckets. */
  counts: number[][];
  /** Per series: how many values it got (a message may lack a feature). */
  samples: number[];
}

/**
 * The recent values of several series (features, score) as counts per reference bin, in a ring of time buckets:
 * memory is buckets x series x bins counters whatever the message rate, and a bucket older than the window is
 * reused for new values. The window covers the last `buckets` buckets, so it slides in steps of `bucketMs`.
 */
export class BinnedWindow {
  private readonly ring: Array<Bucket | undefined>;

  constructor(
    private readonly edges: ReadonlyArray<readonly number[]>,
    private readonly bucketMs: number,
    private readonly buckets: number,
  ) {
    if (!(bucketMs > 0) || !Number.isInteger(buckets) || buckets < 1) throw new Error(`bad window: ${buckets} buckets of ${bucketMs} ms`);
    this.ring = new Array<Bucket | undefined>(buckets).fill(undefined);
  }

  /** One message: a value per series (undefined or non-finite: that series has none this time). Values older than the window are dropped. */
  add(values: ReadonlyArray<number | undefined>, at: number): void {
    const index = Math.floor(at / this.bucketMs);
    const slot = index % this.buckets;
    let bucket = this.ring[slot];
    if (bucket && bucket.index > index) return; // older than the window this slot now holds
    if (!bucket || bucket.index !== index) {
      bucket = { index, counts: this.edges.map((e) => new Uint32Array(e.length + 1)), messages: 0 };
      this.ring[slot] = bucket;
    }
    bucket.messages += 1;
    this.edges.forEach((edges, s) => {
      const v = values[s];
      if (v !== undefined && Number.isFinite(v)) bucket.counts[s]![binIndex(edges, v)]! += 1;
    });
  }

  totals(now: number): WindowTotals {
    const newest = Math.floor(now / this.bucketMs);
    const counts = this.edges.map((e) => new Array<number>(e.length + 1).fill(0));
    let messages = 0;
    for (const bucket of this.ring) {
      if (!bucket || bucket.index <= newest - this.buckets || bucket.index > newest) continue;
      messages += bucket.messages;
      bucket.counts.forEach((c, s) => c.forEach((n, b) => (counts[s]![b]! += n)));
    }
    return { messages, counts, samples: counts.map((c) => c.reduce((a, b) => a + b, 0)) };
  }
}
