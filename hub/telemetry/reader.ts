import { readFile } from 'node:fs/promises';
import { PdmError } from '../../protocol/errors.js';
import { asLine, parseLine, type NamesLine, type RowLine, type TelemetryRow } from './rows.js';
import { listSegments, type SegmentInfo } from './segments.js';

export interface SegmentRead {
  rows: TelemetryRow[];
  /** The file ended in a partial line (a crash mid-append): it was skipped. */
  tornTail: boolean;
  /** Whole lines that were not valid rows (or rows before any names line): skipped and counted. */
  damagedLines: number;
}

/** Reads one segment. Segments are bounded by `segmentBytes`, so reading one whole is cheap and simple. */
export async function readSegment(seg: Pick<SegmentInfo, 'file' | 'site' | 'device'>): Promise<SegmentRead> {
  let text: string;
  try {
    text = await readFile(seg.file, 'utf8');
  } catch (error) {
    // Retention may delete a sealed segment between listing and reading: that is no data, not an error.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], tornTail: false, damagedLines: 0 };
    throw new PdmError('PDM_ERR_TELEMETRY_LOG', `${seg.file}: ${(error as Error).message}`, { cause: error });
  }
  const lines = text.split('\n');
  // Every append ends in a newline, so anything after the last one is a torn write.
  const tail = lines.pop()!;
  const out: SegmentRead = { rows: [], tornTail: tail.length > 0, damagedLines: 0 };
  const complete = lines.filter((line) => line.length > 0);
  let parsedLines: Array<NamesLine | RowLine | undefined>;
  try {
    // One parse of the whole segment is much faster than one per line; a damaged line makes it throw, and then
    // each line is parsed alone so only that line is lost.
    const all = JSON.parse(`[${complete.join(',')}]`) as unknown[];
    // A damaged line holding a comma could parse as two values (or two halves as one): then trust nothing of it.
    if (all.length !== complete.length) throw new Error('line count differs');
    parsedLines = all.map(asLine);
  } catch {
    parsedLines = complete.map(parseLine);
  }
  let names: string[] | undefined;
  for (const parsed of parsedLines) {
    if (!parsed) {
      out.damagedLines++;
    } else if ('names' in parsed) {
      names = parsed.names;
    } else if (!names || parsed.v.length !== names.length) {
      out.damagedLines++;
    } else {
      out.rows.push({
        site: seg.site,
        device: seg.device,
        t: parsed.t,
        windowStart: parsed.ws,
        receivedAt: parsed.rx,
        score: parsed.score,
        threshold: parsed.thr,
        names,
        values: parsed.v,
      });
    }
  }
  return out;
}

export interface ReadRange {
  /** Device time of the rows (windowEnd), inclusive; either end may be left open. */
  from?: number;
  to?: number;
}

export interface ReadStats {
  segments: number;
  tornTails: number;
  damagedLines: number;
}

/**
 * Streams one device's rows with windowEnd in [from, to], a segment at a time (oldest first). Sealed segments whose
 * time range misses the range are not opened. Rows still buffered in a running log are not on disk yet: call the log's
 * `flush()` first when they matter.
 */
export async function* readTelemetry(
  root: string,
  site: string,
  device: string,
  range: ReadRange = {},
  stats?: ReadStats,
): AsyncGenerator<TelemetryRow> {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  for (const seg of listSegments(root, site, device)) {
    if (seg.sealed && (seg.maxT! < from || seg.minT! > to)) continue;
    const read = await readSegment(seg);
    if (stats) {
      stats.segments++;
      stats.tornTails += read.tornTail ? 1 : 0;
      stats.damagedLines += read.damagedLines;
    }
    for (const row of read.rows) if (row.t >= from && row.t <= to) yield row;
  }
}
