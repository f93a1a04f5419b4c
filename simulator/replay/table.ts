import { readFileSync } from 'node:fs';
import { PdmError } from '../../protocol/errors.js';

/** A recorded multichannel time series with optional labels, as read from any supported format. */
export interface RecordedTable {
  file: string;
  /** Epoch ms of each row, strictly increasing. */
  times: Float64Array;
  channels: Record<string, Float64Array>;
  /** 1 where the recording is labelled anomalous; absent when the format carries no labels. */
  labels?: Uint8Array;
  /** 1 where a changepoint is labelled (SKAB). */
  changepoints?: Uint8Array;
}

export interface CsvRow {
  /** 1-based line number in the file, for error messages. */
  line: number;
  cells: string[];
}

/** Reads a delimited text file into header + rows; every later error can name the file and the line. */
export function readDelimited(file: string, delimiter: string): { header: string[]; rows: CsvRow[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new PdmError('PDM_ERR_REPLAY_FILE', `${file}: ${reason}`, { cause });
  }
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '')
    .replace(/^\uFEFF/, '')
    .split(delimiter)
    .map(unquote);
  if (header.length < 2) {
    throw formatError(
      file,
      1,
      `expected a header row of at least two columns separated by "${delimiter}", got "${(lines[0] ?? '').slice(0, 80)}"`,
    );
  }
  const rows: CsvRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const cells = raw.split(delimiter).map(unquote);
    if (cells.length !== header.length)
      throw formatError(file, i + 1, `expected ${header.length} columns, found ${cells.length}`);
    rows.push({ line: i + 1, cells });
  }
  if (rows.length === 0) throw formatError(file, 2, 'no data rows');
  return { header, rows };
}

const unquote = (cell: string): string => {
  const trimmed = cell.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
};

export function formatError(file: string, line: number, what: string): PdmError {
  return new PdmError('PDM_ERR_REPLAY_FORMAT', `${file} line ${line}: ${what}`);
}

export function columnIndex(file: string, header: string[], name: string, role: string): number {
  const index = header.indexOf(name);
  if (index < 0) throw formatError(file, 1, `missing ${role} column "${name}" (columns: ${header.join(', ')})`);
  return index;
}

export function parseNumber(file: string, row: CsvRow, index: number, column: string): number {
  const cell = row.cells[index]!;
  const value = cell === '' ? Number.NaN : Number(cell);
  if (!Number.isFinite(value)) throw formatError(file, row.line, `column "${column}": "${cell}" is not a number`);
  return value;
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses `YYYY-MM-DD HH:MM[:SS[.fff…]]` with an optional zone. Times without a zone are taken as UTC, the only
 * reading that gives the same result on every machine (SKAB and NAB carry none).
 */
export function parseDateTime(text: string): number {
  const match = DATE_TIME.exec(text.trim());
  if (!match) return Number.NaN;
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const ms = fraction ? `.${fraction.slice(1, 4).padEnd(3, '0')}` : '';
  const seconds = time!.length === 5 ? `${time}:00` : time;
  return Date.parse(`${date}T${seconds}${ms}${zone}`);
}

export function parseTime(file: string, row: CsvRow, index: number, column: string, format: TimeFormat): number {
  const cell = row.cells[index]!;
  const value = format === 'datetime' ? parseDateTime(cell) : format === 'epoch-s' ? Number(cell) * 1000 : Number(cell);
  if (cell === '' || !Number.isFinite(value)) {
    throw formatError(
      file,
      row.line,
      `column "${column}": "${cell}" is not a ${format === 'datetime' ? 'date-time (YYYY-MM-DD HH:MM:SS)' : `time in ${format}`}`,
    );
  }
  return value;
}

export type TimeFormat = 'datetime' | 'epoch-ms' | 'epoch-s';

/** Replay needs time to move forward: a row at or before its predecessor is an error naming both lines. */
export function checkSorted(file: string, rows: CsvRow[], times: Float64Array): void {
  for (let i = 1; i < times.length; i++) {
    if (times[i]! <= times[i - 1]!) {
      throw formatError(
        file,
        rows[i]!.line,
        `timestamps must increase: this row is not after line ${rows[i - 1]!.line}`,
      );
    }
  }
}
