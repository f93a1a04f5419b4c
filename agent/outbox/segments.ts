import { PdmError } from '../../protocol/errors.js';
import type { FileOps } from '../../storage/file-ops.js';
import { listSegmentFiles } from '../../storage/segment-files.js';
import { encodeAppend, scanSegment } from './record-codec.js';
import type { OutboxRecord } from './types.js';

export interface Segment {
  no: number;
  path: string;
  bytes: number;
  /** Live records whose current copy is in this segment. */
  live: number;
}

export interface LoadedSegments {
  segments: Segment[];
  /** Live records in seq order, each with the segment holding its newest copy. */
  live: Array<{ record: OutboxRecord; segment: Segment }>;
  diskBytes: number;
  nextSeq: number;
  nextSegment: number;
}

/**
 * Replays every segment in order: appends add a record, removals cancel it, a later copy (compaction) replaces an
 * earlier one. A damaged record ends the reading of its segment only; it is reported, never thrown.
 */
export async function loadSegments(
  fs: FileOps,
  dir: string,
  onDamage: (error: PdmError) => void,
): Promise<LoadedSegments> {
  const live = new Map<number, { record: OutboxRecord; segment: Segment }>();
  const segments: Segment[] = [];
  let diskBytes = 0;
  let nextSeq = 0;
  let nextSegment = 1;
  for (const { no, path } of await listSegmentFiles(fs, dir)) {
    const buf = await fs.read(path);
    const scan = scanSegment(buf);
    const segment: Segment = { no, path, bytes: buf.length, live: 0 };
    segments.push(segment);
    diskBytes += buf.length;
    nextSegment = Math.max(nextSegment, no + 1);
    if (scan.damage) {
      onDamage(
        new PdmError(
          'PDM_ERR_OUTBOX_CORRUPT',
          `${path}: ${scan.damage}; ${scan.records.length} whole records before it kept`,
        ),
      );
    }
    for (const rec of scan.records) {
      nextSeq = Math.max(nextSeq, rec.seq + 1);
      if (rec.kind === 'remove') live.delete(rec.seq);
      else
        live.set(rec.seq, {
          record: { ...rec.message, seq: rec.seq, bytes: encodeAppend(rec.seq, rec.message).length },
          segment,
        });
    }
  }
  return {
    segments,
    live: [...live.values()].sort((a, b) => a.record.seq - b.record.seq),
    diskBytes,
    nextSeq,
    nextSegment,
  };
}
