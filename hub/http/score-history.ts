import { tieredRows, TimeRows } from './time-rows.js';

/** A score history's row: the score, and the threshold it was scored against. */
const SCORE = 0;
const THRESHOLD = 1;
const WIDTH = 2;

export interface ScoreSeries {
  t: number[];
  score: number[];
  threshold: number[];
}

interface DeviceHistory {
  /** Every score, for the recent past (the chart around an event). */
  fine: TimeRows;
  /** One point per bucket (its highest score), for days. */
  coarse: TimeRows;
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

  /** Bytes a device's history holds now (0 for one never heard). */
  bytes(key: string): number {
    const history = this.devices.get(key);
    return history ? history.fine.bytes + history.coarse.bytes : 0;
  }

  add(key: string, t: number, score: number, threshold: number): void {
    let history = this.devices.get(key);
    if (!history) {
      history = { fine: new TimeRows(this.fineCapacity, WIDTH), coarse: new TimeRows(this.coarseCapacity, WIDTH) };
      this.devices.set(key, history);
    }
    set(history.fine, history.fine.push(t), score, threshold);
    const bucket = Math.floor(t / this.bucketMs) * this.bucketMs;
    const { coarse } = history;
    const last = coarse.last();
    if (last === undefined || coarse.time(last) !== bucket) set(coarse, coarse.push(bucket), score, threshold);
    else if (score > coarse.value(last, SCORE)) set(coarse, last, score, threshold);
  }

  read(key: string, points: number, from = -Infinity, to = Infinity): ScoreSeries {
    const history = this.devices.get(key);
    const out: ScoreSeries = { t: [], score: [], threshold: [] };
    if (!history) return out;
    const rows = tieredRows(history.coarse, history.fine, this.bucketMs, from, to);
    const bucket = Math.max(1, Math.ceil(rows.length / Math.max(1, points)));
    const score = ([ring, index]: [TimeRows, number]) => ring.value(index, SCORE);
    for (let start = 0; start < rows.length; start += bucket) {
      let best = rows[start]!;
      for (let i = start + 1; i < Math.min(start + bucket, rows.length); i++)
        if (score(rows[i]!) > score(best)) best = rows[i]!;
      const [ring, index] = best;
      out.t.push(ring.time(index));
      out.score.push(score(best));
      out.threshold.push(ring.value(index, THRESHOLD));
    }
    return out;
  }
}

function set(rows: TimeRows, row: number, score: number, threshold: number): void {
  rows.set(row, SCORE, score);
  rows.set(row, THRESHOLD, threshold);
}
