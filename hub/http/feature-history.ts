import type { Contribution, TelemetryMessage } from '../../protocol/messages.js';
import { tieredRows, TimeRows } from './time-rows.js';

interface DeviceFeatures {
  /** The feature each column holds ('' for a free one). */
  slots: string[];
  /** Messages since free columns were last offered the message's features (a device with few features keeps some). */
  sinceFill: number;
  fine: TimeRows;
  coarse: TimeRows;
}

export interface FeatureSeries {
  t: number[];
  features: Array<{ feature: string; values: Array<number | null> }>;
}

export interface FeatureHistoryOptions {
  /** Features kept per device (default 6). */
  maxFeatures?: number;
  /** Raw rows kept per device (default 600: 5 min at two windows a second). */
  fineCapacity?: number;
  /** Width of a coarse bucket (default 5 min) and how many are kept (default 2,016: a week). */
  bucketMs?: number;
  coarseCapacity?: number;
}

const FILL_EVERY = 100;

/** Kinds of feature people read first, before an alarm names any: levels, then band energies, then the rest. */
const RANK = [/\.rms$/, /\.band\./, /\.amp\./, /\.bearing\./, /\.peak$/, /\.kurtosis$/, /\.crest$/, /\.mean$/];
const rank = (name: string): number => {
  const i = RANK.findIndex((r) => r.test(name));
  return i < 0 ? RANK.length : i;
};

/**
 * Trends of each device's top features, from its telemetry, in two tiers like the score history (raw for minutes,
 * per-bucket maxima for a week). The top features are the ones its latest anomaly named, filled up with its levels
 * and band energies; a feature that gives up its place loses its trend.
 */
export class FeatureHistory {
  private readonly devices = new Map<string, DeviceFeatures>();
  private readonly maxFeatures: number;
  private readonly fineCapacity: number;
  private readonly bucketMs: number;
  private readonly coarseCapacity: number;

  constructor(opts: FeatureHistoryOptions = {}) {
    this.maxFeatures = opts.maxFeatures ?? 6;
    this.fineCapacity = opts.fineCapacity ?? 600;
    this.bucketMs = opts.bucketMs ?? 300_000;
    this.coarseCapacity = opts.coarseCapacity ?? 2016;
  }

  has(key: string): boolean {
    return this.devices.has(key);
  }

  /** Bytes a device's trends hold now (0 for one never heard). */
  bytes(key: string): number {
    const device = this.devices.get(key);
    return device ? device.fine.bytes + device.coarse.bytes : 0;
  }

  /** The features kept for a device, in column order. */
  tracked(key: string): string[] {
    return this.devices.get(key)?.slots.filter(Boolean) ?? [];
  }

  add(key: string, msg: Pick<TelemetryMessage, 'windowEnd' | 'features'>): void {
    let device = this.devices.get(key);
    if (!device) {
      device = {
        slots: Array<string>(this.maxFeatures).fill(''),
        sinceFill: Infinity,
        fine: new TimeRows(this.fineCapacity, this.maxFeatures),
        coarse: new TimeRows(this.coarseCapacity, this.maxFeatures),
      };
      this.devices.set(key, device);
    }
    // Free columns look at the names again now and then, not on every message of a fleet's flood.
    if (device.sinceFill++ >= FILL_EVERY && device.slots.includes('')) {
      device.sinceFill = 0;
      this.fill(device, Object.keys(msg.features));
    }
    const t = msg.windowEnd;
    const fine = device.fine.push(t);
    const bucket = Math.floor(t / this.bucketMs) * this.bucketMs;
    const last = device.coarse.last();
    const coarse = last !== undefined && device.coarse.time(last) === bucket ? last : device.coarse.push(bucket);
    const { slots } = device;
    for (let slot = 0; slot < slots.length; slot++) {
      const value = msg.features[slots[slot]!];
      if (value === undefined) continue;
      device.fine.set(fine, slot, value);
      // NaN (nothing yet) loses to any value.
      if (!(device.coarse.value(coarse, slot) >= value)) device.coarse.set(coarse, slot, value);
    }
  }

  /** An anomaly named these features: they get a column (most explaining first), taking those it did not name. */
  track(key: string, contributions: readonly Contribution[]): void {
    const device = this.devices.get(key);
    if (!device) return;
    const named = [...contributions].sort((a, b) => b.share - a.share).map((c) => c.feature);
    const wanted = named.slice(0, this.maxFeatures);
    for (const feature of wanted) {
      if (device.slots.includes(feature)) continue;
      // The free column, else the one of lowest rank that this anomaly did not name.
      let slot = device.slots.indexOf('');
      if (slot < 0) {
        const free = device.slots
          .map((name, i) => ({ name, i }))
          .filter(({ name }) => !wanted.includes(name))
          .sort((a, b) => rank(b.name) - rank(a.name));
        if (!free.length) return;
        slot = free[0]!.i;
      }
      device.slots[slot] = feature;
      device.fine.clear(slot);
      device.coarse.clear(slot);
    }
  }

  private fill(device: DeviceFeatures, names: string[]): void {
    const candidates = names.filter((n) => !device.slots.includes(n)).sort((a, b) => rank(a) - rank(b));
    for (let slot = 0; slot < device.slots.length && candidates.length; slot++)
      if (device.slots[slot] === '') device.slots[slot] = candidates.shift()!;
  }

  /** Rows with windowEnd in [from, to], at most `points` of them (each the maxima of a run of rows). */
  read(key: string, points: number, from = -Infinity, to = Infinity): FeatureSeries {
    const device = this.devices.get(key);
    if (!device) return { t: [], features: [] };
    const columns = device.slots.map((feature, slot) => ({ feature, slot })).filter((c) => c.feature);
    const rows = tieredRows(device.coarse, device.fine, this.bucketMs, from, to);
    const out: FeatureSeries = { t: [], features: columns.map(({ feature }) => ({ feature, values: [] })) };
    const step = Math.max(1, Math.ceil(rows.length / Math.max(1, points)));
    for (let start = 0; start < rows.length; start += step) {
      const group = rows.slice(start, start + step);
      const [newest, newestRow] = group[group.length - 1]!;
      out.t.push(newest.time(newestRow));
      columns.forEach(({ slot }, c) => {
        let best = NaN;
        for (const [cols, row] of group) {
          const v = cols.value(row, slot);
          if (!(best >= v)) best = Number.isNaN(v) ? best : v;
        }
        out.features[c]!.values.push(Number.isNaN(best) ? null : best);
      });
    }
    return out;
  }
}
