import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PdmError } from '../protocol/errors.js';

/** The eight SKAB sensor columns, in file order; every SKAB model card uses this feature order. */
export const SKAB_SENSORS = [
  'Accelerometer1RMS',
  'Accelerometer2RMS',
  'Current',
  'Pressure',
  'Temperature',
  'Thermocouple',
  'Voltage',
  'Volume Flow RateRMS',
] as const;

export interface SkabFile {
  /** Path relative to the data folder, e.g. `valve1/0.csv`. */
  name: string;
  /** Epoch milliseconds per row (the file's local times read as UTC; only differences matter). */
  times: number[];
  /** Rows × sensors, in SKAB_SENSORS order. */
  rows: number[][];
  anomaly: number[];
  changepoint: number[];
}

/** The 34 labelled files of the published protocol, in the leaderboard's order. */
export function skabFileNames(): string[] {
  const names: string[] = [];
  for (let i = 0; i <= 15; i++) names.push(`valve1/${i}.csv`);
  for (let i = 0; i <= 3; i++) names.push(`valve2/${i}.csv`);
  for (let i = 1; i <= 14; i++) names.push(`other/${i}.csv`);
  return names;
}

function parseTime(text: string, where: string): number {
  const ms = Date.parse(`${text.trim().replace(' ', 'T')}Z`);
  if (!Number.isFinite(ms)) throw new PdmError('PDM_ERR_DATASET', `${where}: bad datetime "${text}"`);
  return ms;
}

/** Parses one labelled SKAB CSV (`;`-separated, header checked so a wrong folder fails loudly). */
export function parseSkabCsv(name: string, text: string): SkabFile {
  const lines = text.split(/\r?\n/).filter((line) => line.length > 0);
  const header = (lines[0] ?? '').split(';');
  const expected = ['datetime', ...SKAB_SENSORS, 'anomaly', 'changepoint'];
  if (header.join(';') !== expected.join(';')) {
    throw new PdmError('PDM_ERR_DATASET', `${name}: header is "${header.join(';')}", expected "${expected.join(';')}"`);
  }
  const file: SkabFile = { name, times: [], rows: [], anomaly: [], changepoint: [] };
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(';');
    const where = `${name} line ${i + 1}`;
    if (cells.length !== expected.length)
      throw new PdmError('PDM_ERR_DATASET', `${where}: ${cells.length} columns, expected ${expected.length}`);
    const values = cells.slice(1).map(Number);
    if (values.some((v) => !Number.isFinite(v))) throw new PdmError('PDM_ERR_DATASET', `${where}: non-numeric value`);
    file.times.push(parseTime(cells[0]!, where));
    file.rows.push(values.slice(0, SKAB_SENSORS.length));
    file.anomaly.push(values[SKAB_SENSORS.length]! > 0.5 ? 1 : 0);
    file.changepoint.push(values[SKAB_SENSORS.length + 1]! > 0.5 ? 1 : 0);
  }
  return file;
}

/** Reads the 34 labelled files from a SKAB `data/` folder (read in place: the data is GPL and never copied). */
export function loadSkab(dir: string): SkabFile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new PdmError(
      'PDM_ERR_DATASET',
      `SKAB folder "${dir}" does not exist (expected valve1/, valve2/, other/ inside)`,
    );
  }
  return skabFileNames().map((name) => {
    const path = join(dir, name);
    if (!existsSync(path)) throw new PdmError('PDM_ERR_DATASET', `SKAB file missing: ${path}`);
    return parseSkabCsv(name, readFileSync(path, 'utf8'));
  });
}
