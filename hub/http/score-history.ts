/** Fixed-size typed arrays, oldest entries overwritten: memory is bounded however long the hub runs. */
class Ring {
  readonly t: Float64Array;
  readonly score: Float32Array;
  readonly threshold: Float32Array;
  private next = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.score = new Float32Array(capacity);
    this.threshold = new Float32Array(capacity);
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

  /** The newest entry's index, if any. */
  last(): number | undefined {
    return this.size ? this.at(this.size - 1) : undefined;
  }
}

/** What both histories' rings have: times, and where the i-th oldest entry is. */
export interface TimeRing {
  readonly t: Float64Array;
  readonly size: number;
  at(i: number): number;
}

/**
 * Entries with t in [from, to] of a two-tier history in time order: coarse buckets for what the fine tier no longer
 * holds, then the fine tier itself; each as [ring, index].
 */
export function tieredRows<R extends TimeRing>(
  coarse: R,
  fine: R,
  bucketMs: number,
  from: number,
  to: number,
): Array<[R, number]> {
  const fineStart = fine.size ? fine.t[fine.at(0)]! : Infinity;
  const rows: Array<[R, number]> = [];
  for (let i = 0; i < coarse.size; i++) {
    const index = coarse.at(i);
    const t = coarse.t[index]!;
    if (t + bucketMs <= fineStart && t >= from && t <= to) rows.push([coarse, index]);
  }
  for (let i = 0; i < fine.size; i++) {
    const index = fine.at(i);
    const t = fine.t[index]!;
    if (t >= from && t <= to) rows.push([fine, index]);
  }
  return rows;
}

export interface ScoreSeries {
  t: number[];
  score: number[];
  threshold: number[];
}

interface DeviceHistory {
  /** Every score, for the recent past (the chart around an event). */
  fine: Ring;
  /** One point per bucket (its highest score), for days. */
  coarse: Ring;
}

export interface ScoreHistoryOptions {
  /** Raw scores kept per device (default 1,800: 15 min at two windows a second). */
  fineCapacity?: number;
  /** Width of a coarse bucket (default 60 s) and how many are kept (default 4,320: three days). */
  bucketMs?: number;
  coarseCapacity?: number;
}

/**
 * Score history per device in two tiers (raw for minutes, per-minute maxima for days), so days cost little memory;
 * reads keep each bucket's maximum, so an alarm spike survives any zoom.
 */
export class ScoreHistory {
  private readonly devices = new Map<string, DeviceHistory>();
  private readonly fineCapacity: number;
  private readonly bucketMs: number;
  private readonly coarseCapacity: number;

  constructor(opts: ScoreHistoryOptions = {}) {
    this.fineCapacity = opts.fineCapacity ?? 1800;
    this.bucketMs = opts.bucketMs ?? 60_000;
    this.coarseCapacity = opts.coarseCapacity ?? 4320;
  }

  has(key: string): boolean {
    return this.devices.has(key);
  }

  add(key: string, t: number, score: number, threshold: number): void {
    let history = this.devices.get(key);
    if (!history) {
      history = { fine: new Ring(this.fineCapacity), coarse: new Ring(this.coarseCapacity) };
      this.devices.set(key, history);
    }
    history.fine.push(t, score, threshold);
    const bucket = Math.floor(t / this.bucketMs) * this.bucketMs;
    const last = history.coarse.last();
    if (last !== undefined && history.coarse.t[last] === bucket) {
      if (score > history.coarse.score[last]!) {
        history.coarse.score[last] = score;
        history.coarse.threshold[last] = threshold;
      }
    } else {
      history.coarse.push(bucket, score, threshold);
    }
  }

  read(key: string, points: number, from = -Infinity, to = Infinity): ScoreSeries {
    const history = this.devices.get(key);
    const out: ScoreSeries = { t: [], score: [], threshold: [] };
    if (!history) return out;
    const rows = tieredRows(history.coarse, history.fine, this.bucketMs, from, to);
    const bucket = Math.max(1, Math.ceil(rows.length / Math.max(1, points)));
    for (let start = 0; start < rows.length; start += bucket) {
      let [ring, best] = rows[start]!;
      for (let i = start + 1; i < Math.min(start + bucket, rows.length); i++) {
        const [r, index] = rows[i]!;
        if (r.score[index]! > ring.score[best]!) [ring, best] = [r, index];
      }
      out.t.push(ring.t[best]!);
      out.score.push(ring.score[best]!);
      out.threshold.push(ring.threshold[best]!);
    }
    return out;
  }
}
