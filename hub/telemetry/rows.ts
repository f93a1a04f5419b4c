import type { TelemetryMessage } from '../../protocol/messages.js';

/**
 * One logged telemetry window. On disk a segment is NDJSON: a `{"names":[...]}` line whenever the feature names change
 * (and at the top of every segment), then one `{"t","ws","rx","score","thr","v"}` line per window with the values in
 * that order. Writing the names once instead of in every row keeps a 20-feature row around 3x smaller, and every line
 * stays plain JSON that `jq` or a person can read.
 */
export interface TelemetryRow {
  site: string;
  device: string;
  /** Device clock: the window's end (the row's time) and start. */
  t: number;
  windowStart: number;
  /** Hub clock when it arrived. */
  receivedAt: number;
  score: number;
  threshold: number;
  names: readonly string[];
  values: readonly number[];
}

export interface NamesLine {
  names: string[];
}

export interface RowLine {
  t: number;
  ws: number;
  rx: number;
  score: number;
  thr: number;
  v: number[];
}

/**
 * What the log buffers per message until it is written: the values in a typed array and the names as an array shared
 * by every row of a device while they do not change. Holding this instead of the decoded message keeps what survives
 * until the flush small (one allocation per row), so buffering adds little garbage-collector work to ingest.
 */
export interface BufferedRow {
  t: number;
  ws: number;
  rx: number;
  score: number;
  thr: number;
  names: readonly string[];
  values: Float64Array;
}

export const sameNames = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && (a === b || (a.length === b.length && a.every((n, i) => n === b[i])));

/** `previous`: the device's last names array, reused when the names are the same. */
export function bufferRow(
  msg: TelemetryMessage,
  receivedAt: number,
  previous: readonly string[] | undefined,
): BufferedRow {
  const keys = Object.keys(msg.features);
  const names = previous !== undefined && sameNames(previous, keys) ? previous : keys;
  const values = new Float64Array(names.length);
  for (let i = 0; i < names.length; i++) values[i] = msg.features[names[i]!]!;
  return { t: msg.windowEnd, ws: msg.windowStart, rx: receivedAt, score: msg.score, thr: msg.threshold, names, values };
}

export function rowLine(row: BufferedRow): string {
  const line: RowLine = { t: row.t, ws: row.ws, rx: row.rx, score: row.score, thr: row.thr, v: Array.from(row.values) };
  return `${JSON.stringify(line)}\n`;
}

export const namesLine = (names: readonly string[]): string =>
  `${JSON.stringify({ names: [...names] } satisfies NamesLine)}\n`;

const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** A parsed line's shape: a names line, a row line, or undefined when it is neither (damaged). */
export function asLine(value: unknown): NamesLine | RowLine | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const o = value as Record<string, unknown>;
  if (Array.isArray(o.names) && o.names.every((n) => typeof n === 'string')) return { names: o.names as string[] };
  if (
    typeof o.t === 'number' &&
    typeof o.ws === 'number' &&
    typeof o.rx === 'number' &&
    typeof o.score === 'number' &&
    typeof o.thr === 'number' &&
    isNumberArray(o.v)
  ) {
    return o as unknown as RowLine;
  }
  return undefined;
}

/** Parses one line: a names line, a row line, or undefined when it is neither (damaged). */
export function parseLine(line: string): NamesLine | RowLine | undefined {
  try {
    return asLine(JSON.parse(line));
  } catch {
    return undefined;
  }
}
