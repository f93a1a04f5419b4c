import { crc32 } from 'node:zlib';
import { encodeRecord } from '../../hub/store/journal.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { median, opsPerSecond, type Report } from '../result.js';

/** Changes per group commit: about what one loop turn of the hub collects at 20,000 events/s (hub.ingest). */
const GROUP = 500;
const ROUNDS = 5;

/** A group commit of inspections that each took one event: the `ij` changes collectChanges makes under load. */
function group(): unknown[] {
  const now = Date.now();
  return Array.from({ length: GROUP }, (_, i) => [
    'ij',
    uuidv7(),
    40,
    [
      {
        id: uuidv7(),
        device: `dev-${i}`,
        episodeId: uuidv7(),
        kind: 'anomaly',
        severity: 'warning',
        at: now,
        score: 2,
      },
    ],
    { severity: 'warning', priority: 'P2', lastEventAt: now, updatedAt: now },
    [[], []],
  ]);
}

/** The same record the way encodeRecord built it before: one JSON.stringify of the whole group, measured, written. */
function plainRecord(value: unknown): Buffer {
  const text = JSON.stringify(value);
  const record = Buffer.allocUnsafe(9 + Buffer.byteLength(text, 'utf8') + 1);
  const end = 9 + record.write(text, 9, 'utf8');
  record.write(crc32(record.subarray(9, end)).toString(16).padStart(8, '0'), 0, 'latin1');
  record[8] = 0x20;
  record[end] = 0x0a;
  return record;
}

/**
 * Encoding a group commit's journal record (hub/store/journal.ts `encodeRecord`, change by change into a reused
 * buffer) against the plain encoding of the same bytes, in alternating rounds of the same run: joined events per
 * second, median of the rounds.
 */
export async function run(report: Report): Promise<void> {
  const groups = Array.from({ length: 16 }, group);
  for (const g of groups)
    if (!encodeRecord(g).equals(plainRecord(g))) throw new Error('the two encodings must give the same bytes');
  const values: number[] = [];
  const baselines: number[] = [];
  let n = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    baselines.push(opsPerSecond(() => plainRecord(groups[n++ % groups.length])) * GROUP);
    values.push(opsPerSecond(() => encodeRecord(groups[n++ % groups.length])) * GROUP);
  }
  const value = median(values);
  const baseline = median(baselines);
  report({
    bench: 'hub.journal',
    metric: 'joined_events_encoded_per_second',
    value: Math.round(value),
    unit: 'events/s',
    baseline: Math.round(baseline),
    ratio: Number((value / baseline).toFixed(3)),
    usPerEvent: Number((1e6 / value).toFixed(2)),
    baselineUsPerEvent: Number((1e6 / baseline).toFixed(2)),
    note: `${GROUP} ij changes per record; baseline: the previous encoding, one JSON.stringify of the whole group (the same bytes)`,
    rounds: ROUNDS,
  });
}
