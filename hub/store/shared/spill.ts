import type { Inspection, InspectionEventRef } from '../../inspections/records.js';
import type { SqlSession } from '../sql/session.js';

/**
 * A long incident's events in shared mode: beyond `eventsInMemory`, all but the first and the latest half go to one
 * insert-only row of `shared_spill` (migration 007-shared-spill), so the inspection's row, rewritten on every event
 * it takes, stays small. Mutates `record`; returns the insert, for the commit that writes the record.
 */
export function spillInto(record: Inspection, eventsInMemory: number): [string, unknown[]] | undefined {
  if (record.events.length <= eventsInMemory) return undefined;
  const keep = Math.floor(eventsInMemory / 2);
  const events = record.events.slice(1, record.events.length - (keep - 1));
  const body = JSON.stringify(events);
  const bytes = Buffer.byteLength(body);
  const previous = record.spilled;
  // Chunks are numbered per inspection; the primary key refuses a chunk written twice.
  const chunk = (previous?.tail.at ?? 0) + 1;
  record.events.splice(1, events.length);
  record.spilled = {
    count: (previous?.count ?? 0) + events.length,
    first: Math.min(previous?.first ?? Infinity, ...events.map((e) => e.at)),
    last: Math.max(previous?.last ?? -Infinity, ...events.map((e) => e.at)),
    tail: { at: chunk, bytes },
    bytes: (previous?.bytes ?? 0) + bytes,
  };
  return ['insert into shared_spill (inspection_id, chunk, events) values (?, ?, ?)', [record.id, chunk, body]];
}

/** The record with every event it took, its spilled chunks read back in order (itself when none were spilled). */
export function wholeFrom(db: SqlSession, record: Inspection): Inspection {
  if (!record.spilled) return record;
  const chunks = db.all<{ events: string }>(
    'select events from shared_spill where inspection_id = ? and chunk <= ? order by chunk',
    [record.id, record.spilled.tail.at],
  );
  const spilled = chunks.flatMap((c) => JSON.parse(c.events) as InspectionEventRef[]);
  const { spilled: _spilled, ...rest } = record;
  return { ...rest, events: [...record.events.slice(0, 1), ...spilled, ...record.events.slice(1)] };
}
