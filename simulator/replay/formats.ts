import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import {
  checkSorted,
  columnIndex,
  formatError,
  parseDateTime,
  parseNumber,
  parseTime,
  readDelimited,
  type RecordedTable,
  type TimeFormat,
} from './table.js';

/**
 * SKAB (Skoltech Anomaly Benchmark): `;`-separated, `datetime` first, sensor columns, then `anomaly` and
 * `changepoint` labels written 0.0/1.0 (the anomaly-free file has no label columns).
 */
export function readSkab(file: string): RecordedTable {
  const { header, rows } = readDelimited(file, ';');
  const timeIndex = columnIndex(file, header, 'datetime', 'time');
  const labelColumns = ['anomaly', 'changepoint'];
  const sensorColumns = header.filter((name, i) => i !== timeIndex && !labelColumns.includes(name));
  if (sensorColumns.length === 0) throw formatError(file, 1, 'no sensor columns besides datetime and labels');
  const times = new Float64Array(rows.length);
  const channels: Record<string, Float64Array> = {};
  for (const name of sensorColumns) channels[name] = new Float64Array(rows.length);
  const hasLabels = header.includes('anomaly');
  const labels = hasLabels ? new Uint8Array(rows.length) : undefined;
  const changepoints = header.includes('changepoint') ? new Uint8Array(rows.length) : undefined;
  const indices = sensorColumns.map((name) => header.indexOf(name));
  rows.forEach((row, r) => {
    times[r] = parseTime(file, row, timeIndex, 'datetime', 'datetime');
    sensorColumns.forEach((name, c) => (channels[name]![r] = parseNumber(file, row, indices[c]!, name)));
    if (labels) labels[r] = parseLabel(file, row, header.indexOf('anomaly'), 'anomaly');
    if (changepoints) changepoints[r] = parseLabel(file, row, header.indexOf('changepoint'), 'changepoint');
  });
  checkSorted(file, rows, times);
  return { file, times, channels, ...(labels ? { labels } : {}), ...(changepoints ? { changepoints } : {}) };
}

function parseLabel(file: string, row: { line: number; cells: string[] }, index: number, column: string): 0 | 1 {
  const value = parseNumber(file, row, index, column);
  if (value !== 0 && value !== 1)
    throw formatError(file, row.line, `column "${column}": label must be 0 or 1, got "${row.cells[index]}"`);
  return value;
}

/**
 * NAB (Numenta Anomaly Benchmark): `timestamp,value`; labels are anomaly windows in a JSON file keyed by the data
 * file's path relative to NAB's data folder (e.g. `realKnownCause/nyc_taxi.csv`). `key` defaults to the entry whose
 * key the file's path ends with.
 */
export function readNab(file: string, windowsFile?: string, key?: string): RecordedTable {
  const { header, rows } = readDelimited(file, ',');
  const timeIndex = columnIndex(file, header, 'timestamp', 'time');
  const valueIndex = columnIndex(file, header, 'value', 'value');
  const times = new Float64Array(rows.length);
  const value = new Float64Array(rows.length);
  rows.forEach((row, r) => {
    times[r] = parseTime(file, row, timeIndex, 'timestamp', 'datetime');
    value[r] = parseNumber(file, row, valueIndex, 'value');
  });
  checkSorted(file, rows, times);
  const table: RecordedTable = { file, times, channels: { value } };
  if (!windowsFile) return table;
  const windows = nabWindows(windowsFile, file, key);
  const labels = new Uint8Array(rows.length);
  for (let r = 0; r < rows.length; r++)
    labels[r] = windows.some(([from, to]) => times[r]! >= from && times[r]! <= to) ? 1 : 0;
  return { ...table, labels };
}

function nabWindows(windowsFile: string, dataFile: string, key?: string): Array<[number, number]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(windowsFile, 'utf8'));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code)
      throw new PdmError(
        'PDM_ERR_REPLAY_FILE',
        `${windowsFile}: ${code === 'ENOENT' ? 'no such file' : (cause as Error).message}`,
        { cause },
      );
    throw new PdmError('PDM_ERR_REPLAY_FORMAT', `${windowsFile}: not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PdmError(
      'PDM_ERR_REPLAY_FORMAT',
      `${windowsFile}: expected an object of "<folder>/<file>.csv": [[start, end], …]`,
    );
  }
  const entries = json as Record<string, unknown>;
  const path = resolve(dataFile).replaceAll('\\', '/');
  const chosen = key ?? Object.keys(entries).find((k) => path.endsWith(`/${k}`) || basename(k) === basename(path));
  if (chosen === undefined || !(chosen in entries)) {
    throw new PdmError(
      'PDM_ERR_REPLAY_FORMAT',
      `${windowsFile}: no windows for ${key ? `key "${key}"` : `"${basename(path)}"`}`,
    );
  }
  const list = entries[chosen];
  if (!Array.isArray(list))
    throw new PdmError('PDM_ERR_REPLAY_FORMAT', `${windowsFile}: "${chosen}" is not a list of windows`);
  return list.map((window: unknown, i) => {
    const pair = Array.isArray(window)
      ? window.map((s) => (typeof s === 'string' ? parseDateTime(s) : Number.NaN))
      : [];
    if (pair.length !== 2 || !pair.every(Number.isFinite) || pair[0]! > pair[1]!) {
      throw new PdmError(
        'PDM_ERR_REPLAY_FORMAT',
        `${windowsFile}: "${chosen}"[${i}] must be [start, end] date-times, start first`,
      );
    }
    return [pair[0]!, pair[1]!] as [number, number];
  });
}

/** A generic CSV: which column is time (and how it is written), which columns become which channels, and the label. */
export interface CsvMapping {
  delimiter?: string | undefined;
  time: string;
  timeFormat?: TimeFormat | undefined;
  /** channel name → column name. */
  channels: Record<string, string>;
  label?: string | undefined;
}

export function readCsv(file: string, mapping: CsvMapping): RecordedTable {
  const { header, rows } = readDelimited(file, mapping.delimiter ?? ',');
  const timeIndex = columnIndex(file, header, mapping.time, 'time');
  const entries = Object.entries(mapping.channels);
  if (entries.length === 0) throw new PdmError('PDM_ERR_CONFIG_INVALID', 'csv mapping: name at least one channel');
  const indices = entries.map(
    ([name, column]) => [name, column, columnIndex(file, header, column, `channel "${name}"`)] as const,
  );
  const labelIndex = mapping.label ? columnIndex(file, header, mapping.label, 'label') : -1;
  const times = new Float64Array(rows.length);
  const channels: Record<string, Float64Array> = {};
  for (const [name] of entries) channels[name] = new Float64Array(rows.length);
  const labels = labelIndex >= 0 ? new Uint8Array(rows.length) : undefined;
  rows.forEach((row, r) => {
    times[r] = parseTime(file, row, timeIndex, mapping.time, mapping.timeFormat ?? 'datetime');
    for (const [name, column, index] of indices) channels[name]![r] = parseNumber(file, row, index, column);
    if (labels) labels[r] = parseLabel(file, row, labelIndex, mapping.label!);
  });
  checkSorted(file, rows, times);
  return { file, times, channels, ...(labels ? { labels } : {}) };
}
