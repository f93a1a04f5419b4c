/** One device's recent scores, kept in fixed-size typed arrays: memory is bounded however long the hub runs. */
class Ring {
  readonly t: Float64Array;
  readonly score: Float64Array;
  readonly threshold: Float64Array;
  private next = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.score = new Float64Array(capacity);
    this.threshold = new Float64Array(capacity);
  }

  push(t: number, score: number, threshold: number): void {
    this.t[this.next] = t;
    this.score[this.next] = score;
    this.threshold[this.next] = threshold;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** Index of the i-th oldest entry. */
  at(i: number): number {
    return (this.next - this.size + i + this.capacity) % this.capacity;
  }
}

export interface ScoreSeries {
  t: number[];
  score: number[];
  threshold: number[];
}

/**
 * Score history per device for charts. Reads are downsampled on the server to at most `points` points: each bucket
 * keeps its maximum score (an alarm spike must survive downsampling) at the time it occurred.
 */
export class ScoreHistory {
  private readonly rings = new Map<string, Ring>();

  constructor(private readonly perDevice = 86_400) {}

  add(key: string, t: number, score: number, threshold: number): void {
    let ring = this.rings.get(key);
    if (!ring) this.rings.set(key, (ring = new Ring(this.perDevice)));
    ring.push(t, score, threshold);
  }

  read(key: string, points: number, from = -Infinity, to = Infinity): ScoreSeries {
    const ring = this.rings.get(key);
    const out: ScoreSeries = { t: [], score: [], threshold: [] };
    if (!ring) return out;
    let first = 0;
    while (first < ring.size && ring.t[ring.at(first)]! < from) first++;
    let last = ring.size;
    while (last > first && ring.t[ring.at(last - 1)]! > to) last--;
    const count = last - first;
    const bucket = Math.max(1, Math.ceil(count / Math.max(1, points)));
    for (let start = first; start < last; start += bucket) {
      let best = ring.at(start);
      for (let i = start + 1; i < Math.min(start + bucket, last); i++) {
        const index = ring.at(i);
        if (ring.score[index]! > ring.score[best]!) best = index;
      }
      out.t.push(ring.t[best]!);
      out.score.push(ring.score[best]!);
      out.threshold.push(ring.threshold[best]!);
    }
    return out;
  }
}
