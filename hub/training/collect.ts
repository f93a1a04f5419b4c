import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import { PdmError } from '../../protocol/errors.js';
import type { ReadStats } from '../telemetry/reader.js';
import type { TelemetryRow } from '../telemetry/rows.js';
import type { TelemetryStorage } from '../telemetry/storage.js';
import { labelRow, spansFor, type LabelledInspection, type LabelledWatch } from './labels.js';
import { EvenSample } from './thin.js';

export interface CollectOptions {
  log: Pick<TelemetryStorage, 'read'>;
  devices: DeviceRef[];
  from?: number;
  to?: number;
  inspections: ReadonlyArray<LabelledInspection>;
  watches: ReadonlyArray<LabelledWatch>;
  marginMs: number;
  /** Normal rows kept for the fit (evenly thinned beyond this), and fault rows kept for the figures. */
  maxRows: number;
}

export interface TrainingSet {
  /** Feature order of the model: the order the (first) device sends them in. */
  names: string[];
  /** Rows to fit on (normal + confirmed normal), evenly thinned to at most maxRows. */
  normal: number[][];
  normalRows: number;
  confirmedNormalRows: number;
  /** Labelled fault rows (evenly thinned to at most maxRows), and how many there were before thinning. */
  faultRows: Array<{ label: string; values: number[] }>;
  faultRowCount: number;
  excludedRows: number;
  /** Devices that contributed at least one used row, as "site/device". */
  devices: string[];
  /** Device time of the first and last used row. */
  firstT: number;
  lastT: number;
  /** Inspections whose outcome labelled rows: false alarms (confirmed normal) and faults by label. */
  falseAlarmInspections: number;
  faultInspections: Record<string, number>;
  read: ReadStats;
}

function describeDifference(expected: readonly string[], got: readonly string[]): string {
  const missing = expected.filter((n) => !got.includes(n));
  const extra = got.filter((n) => !expected.includes(n));
  return [
    missing.length ? `missing ${missing.slice(0, 5).join(', ')}` : '',
    extra.length ? `extra ${extra.slice(0, 5).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * Reads the devices' telemetry in [from, to] and labels each row (labels.ts). Rows must share one feature set (reordered
 * if needed); another set is PDM_ERR_TRAINING_DATA naming device, time and difference: one model cannot take both.
 */
export async function collectTrainingSet(opts: CollectOptions): Promise<TrainingSet> {
  const normal = new EvenSample<number[]>(opts.maxRows);
  const faults = new EvenSample<{ label: string; values: number[] }>(opts.maxRows);
  const set: Omit<TrainingSet, 'normal' | 'normalRows' | 'faultRows' | 'faultRowCount'> = {
    names: [],
    confirmedNormalRows: 0,
    excludedRows: 0,
    devices: [],
    firstT: Infinity,
    lastT: -Infinity,
    falseAlarmInspections: 0,
    faultInspections: {},
    read: { segments: 0, tornTails: 0, damagedLines: 0 },
  };
  let names: readonly string[] | undefined;
  const sources = { falseAlarm: new Set<string>(), fault: new Map<string, string>() };
  // Rows of one segment share one names array, so the order check is one comparison per segment, not per row.
  let lastNames: readonly string[] | undefined;
  let order: number[] | undefined;
  const valuesOf = (row: TelemetryRow): number[] => {
    if (!names) names = row.names;
    if (row.names !== lastNames) {
      lastNames = row.names;
      const sameSet = row.names.length === names.length && names.every((n) => row.names.includes(n));
      if (!sameSet) {
        throw new PdmError(
          'PDM_ERR_TRAINING_DATA',
          `features differ between rows: ${deviceKey(row)} at ${new Date(row.t).toISOString()} has ` +
            `[${row.names.length} features] where earlier rows had [${names.length}] ` +
            `(${describeDifference(names, row.names)}); train one feature set at a time (narrow from/to, or train devices separately)`,
        );
      }
      order = names.map((n) => row.names.indexOf(n));
    }
    return order!.every((j, i) => j === i) ? [...row.values] : order!.map((j) => row.values[j]!);
  };
  for (const ref of opts.devices) {
    const spans = spansFor(ref.site, ref.device, opts.inspections, opts.watches, opts.marginMs);
    let used = false;
    for await (const row of opts.log.read(
      ref.site,
      ref.device,
      { ...(opts.from !== undefined ? { from: opts.from } : {}), ...(opts.to !== undefined ? { to: opts.to } : {}) },
      set.read,
    )) {
      const label = labelRow(row.t, spans);
      if (label.kind === 'excluded') {
        set.excludedRows++;
        continue;
      }
      const values = valuesOf(row);
      used = true;
      set.firstT = Math.min(set.firstT, row.t);
      set.lastT = Math.max(set.lastT, row.t);
      if (label.kind === 'fault') {
        faults.push({ label: label.label, values });
        sources.fault.set(label.source, label.label);
        continue;
      }
      if (label.kind === 'confirmed-normal') {
        set.confirmedNormalRows++;
        sources.falseAlarm.add(label.source);
      }
      normal.push(values);
    }
    if (used) set.devices.push(deviceKey(ref));
  }
  set.names = [...(names ?? [])];
  set.falseAlarmInspections = sources.falseAlarm.size;
  for (const label of sources.fault.values()) set.faultInspections[label] = (set.faultInspections[label] ?? 0) + 1;
  return {
    ...set,
    normal: normal.items(),
    normalRows: normal.offered,
    faultRows: faults.items(),
    faultRowCount: faults.offered,
  };
}
