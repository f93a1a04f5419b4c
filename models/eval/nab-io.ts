import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';

/** One NAB data file: `timestamp,value` rows. */
export interface NabSeries {
  name: string;
  times: number[];
  values: number[];
}

/** NAB timestamps ("YYYY-MM-DD HH:MM:SS" with optional fraction) as epoch ms, read as UTC (only order matters). */
export function parseNabTime(text: string, where: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?$/.exec(text.trim());
  const ms = m ? Date.parse(`${m[1]}T${m[2]}Z`) + (m[3] ? Math.floor(Number(`0.${m[3]}`) * 1000) : 0) : NaN;
  if (!Number.isFinite(ms))
    throw new PdmError('PDM_ERR_DATASET', `${where}: bad timestamp "${text}" (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
  return ms;
}

/** A numeric cell; empty cells are refused (Number('') would read them as 0). */
function numberCell(cell: string | undefined, where: string): number {
  const text = (cell ?? '').trim();
  if (text === '') throw new PdmError('PDM_ERR_DATASET', `${where} is empty`);
  const x = Number(text);
  if (!Number.isFinite(x)) throw new PdmError('PDM_ERR_DATASET', `${where} "${text}" is not a number`);
  return x;
}

/** Epoch ms back to NAB's "YYYY-MM-DD HH:MM:SS" (fractions kept when present), for messages. */
export function formatNabTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, iso.endsWith('.000Z') ? 19 : 23)}`;
}

function parseCsv(path: string, text: string, needed: string[]): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  for (const column of needed) {
    if (!header.includes(column))
      throw new PdmError('PDM_ERR_DATASET', `${path}: no "${column}" column (header: ${header.join(',')})`);
  }
  return { header, rows: lines.slice(1).map((l) => l.split(',')) };
}

export function readNabSeries(dir: string, name: string): NabSeries {
  const path = join(dir, name);
  if (!existsSync(path)) throw new PdmError('PDM_ERR_DATASET', `NAB data file missing: ${path}`);
  const { header, rows } = parseCsv(path, readFileSync(path, 'utf8'), ['timestamp', 'value']);
  const t = header.indexOf('timestamp');
  const v = header.indexOf('value');
  const series: NabSeries = { name, times: [], values: [] };
  rows.forEach((cells, i) => {
    const value = numberCell(cells[v], `${path} line ${i + 2}: value`);
    series.times.push(parseNabTime(cells[t] ?? '', `${path} line ${i + 2}`));
    series.values.push(value);
  });
  return series;
}

/** The windows file: `{ "<relative path>": [[start, end], ...] }`, timestamps as strings. */
export function readNabWindows(path: string): Map<string, Array<[number, number]>> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PdmError('PDM_ERR_DATASET', `${path}: cannot read windows JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new PdmError('PDM_ERR_DATASET', `${path}: expected an object mapping file paths to window lists`);
  const out = new Map<string, Array<[number, number]>>();
  for (const [file, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list))
      throw new PdmError('PDM_ERR_DATASET', `${path}: "${file}" must map to a list of [start, end]`);
    out.set(
      file,
      list.map((w, k) => {
        const where = `${path}: "${file}" window ${k}`;
        if (!Array.isArray(w) || w.length !== 2) throw new PdmError('PDM_ERR_DATASET', `${where} must be [start, end]`);
        const start = parseNabTime(String(w[0]), where);
        const end = parseNabTime(String(w[1]), where);
        if (end < start) throw new PdmError('PDM_ERR_DATASET', `${where} ends before it starts`);
        return [start, end];
      }),
    );
  }
  return out;
}

/**
 * The line of each window of `file` in the windows JSON text (where its start timestamp is written), for messages;
 * undefined where the text cannot be followed.
 */
export function nabWindowLines(text: string, file: string, windows: number): Array<number | undefined> {
  const lines: Array<number | undefined> = [];
  const key = text.indexOf(`${JSON.stringify(file)}`);
  let at = key < 0 ? -1 : text.indexOf('[', key);
  for (let k = 0; k < windows; k++) {
    at = at < 0 ? -1 : text.indexOf('[', at + 1);
    lines.push(at < 0 ? undefined : text.slice(0, at).split('\n').length);
    if (at >= 0) at = text.indexOf(']', at);
  }
  return lines;
}

/**
 * Window timestamps → inclusive row ranges. Both ends must be timestamps of data rows (NAB's scorer stops at a window
 * that does not line up with the data); `where(k)` names window k in the error.
 */
export function windowsToRows(
  times: readonly number[],
  windows: ReadonlyArray<[number, number]>,
  where: (k: number) => string = (k) => `window ${k}`,
): Array<[number, number]> {
  const row = new Map<number, number>();
  times.forEach((t, i) => {
    if (!row.has(t)) row.set(t, i);
  });
  const out = windows.map(([start, end], k): [number, number] => {
    const left = row.get(start);
    const right = row.get(end);
    for (const [name, t, i] of [
      ['starts', start, left],
      ['ends', end, right],
    ] as const)
      if (i === undefined)
        throw new PdmError('PDM_ERR_DATASET', `${where(k)} ${name} at ${formatNabTime(t)}, which is not a data row`);
    return [left!, right!];
  });
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * Precomputed results for one data file: `<results>/<dir of name>/<file>` or `.../<detector>_<file>`, with columns
 * timestamp,value,anomaly_score. Returns the detector name (the prefix, if any) and the scores.
 */
export function readNabResults(
  resultsDir: string,
  name: string,
  times: readonly number[],
): { detector: string | undefined; scores: number[] } {
  const rows = times.length;
  const folder = join(resultsDir, dirname(name));
  const file = basename(name);
  const match = existsSync(folder) ? readdirSync(folder).find((f) => f === file || f.endsWith(`_${file}`)) : undefined;
  if (!match)
    throw new PdmError(
      'PDM_ERR_DATASET',
      `no results for ${name} in ${folder} (expected ${file} or <detector>_${file})`,
    );
  const path = join(folder, match);
  const { header, rows: cells } = parseCsv(path, readFileSync(path, 'utf8'), ['timestamp', 'anomaly_score']);
  if (cells.length !== rows)
    throw new PdmError('PDM_ERR_DATASET', `${path}: ${cells.length} rows, the data file has ${rows}`);
  const s = header.indexOf('anomaly_score');
  const t = header.indexOf('timestamp');
  const v = header.indexOf('value');
  const scores = cells.map((c, i) => {
    const where = `${path} line ${i + 2}`;
    const stamp = parseNabTime(c[t] ?? '', where);
    if (stamp !== times[i])
      throw new PdmError(
        'PDM_ERR_DATASET',
        `${where}: timestamp ${formatNabTime(stamp)} but row ${i + 2} of the data file is ${formatNabTime(times[i]!)}`,
      );
    if (v >= 0) numberCell(c[v], `${where}: value`);
    return numberCell(c[s], `${where}: anomaly_score`);
  });
  return { detector: match === file ? undefined : match.slice(0, -file.length - 1), scores };
}
