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
    const value = Number(cells[v]);
    if (!Number.isFinite(value))
      throw new PdmError('PDM_ERR_DATASET', `${path} line ${i + 2}: value "${cells[v]}" is not a number`);
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

/** Window timestamps → inclusive row ranges (first row at or after start, last row at or before end). */
export function windowsToRows(
  times: readonly number[],
  windows: ReadonlyArray<[number, number]>,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [start, end] of windows) {
    const left = times.findIndex((t) => t >= start);
    let right = -1;
    for (let i = times.length - 1; i >= 0; i--)
      if (times[i]! <= end) {
        right = i;
        break;
      }
    if (left >= 0 && right >= left) out.push([left, right]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * Precomputed results for one data file: `<results>/<dir of name>/<file>` or `.../<detector>_<file>`, with columns
 * timestamp,value,anomaly_score. Returns the detector name (the prefix, if any) and the scores.
 */
export function readNabResults(
  resultsDir: string,
  name: string,
  rows: number,
): { detector: string | undefined; scores: number[] } {
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
  const scores = cells.map((c, i) => {
    const x = Number(c[s]);
    if (!Number.isFinite(x))
      throw new PdmError('PDM_ERR_DATASET', `${path} line ${i + 2}: anomaly_score "${c[s]}" is not a number`);
    return x;
  });
  return { detector: match === file ? undefined : match.slice(0, -file.length - 1), scores };
}
