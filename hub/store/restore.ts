import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import { applyChanges, LeftRecords, ListIndex, type Change } from './changes.js';
import { generationPath } from './archive-file.js';
import { decodeLine, parseJournal } from './journal.js';
import { SeenEvents } from '../inspections/seen-events.js';
import { emptyState, type HubState } from './state.js';
import type { ChunkRef } from '../inspections/records.js';

export const SNAPSHOT_FILE = 'state.json';
export const JOURNAL_FILE = 'state.journal';
export const ARCHIVE_FILE = 'inspections.archive';

/** Valid JSON can still be the wrong document (truncated by hand, another program's file): say what is off. */
export function shapeProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'the state is not a JSON object';
  const doc = data as Record<string, unknown>;
  if (doc.schema !== 1) return `unknown state schema ${JSON.stringify(doc.schema)} (expected 1)`;
  for (const key of ['inspections', 'watches'] as const) {
    if (key in doc && !Array.isArray(doc[key])) return `"${key}" is not a list`;
  }
  for (const key of ['seenEvents', 'devices'] as const) {
    if (key in doc && (typeof doc[key] !== 'object' || doc[key] === null)) return `"${key}" is not an object`;
  }
  return undefined;
}

/** A journal record must be a list of changes; anything else is another program's line that happens to checksum. */
function asChanges(record: unknown, name: string, n: number): Change[] {
  if (!Array.isArray(record) || !record.every((c) => Array.isArray(c) && typeof c[0] === 'string')) {
    throw new PdmError('PDM_ERR_STORE_CORRUPT', `${name}: record ${n} is not a list of changes`);
  }
  return record as Change[];
}

/**
 * Replays journal generations, oldest first, over a snapshot at least as old as their start (whole records, the last
 * wins). Returns how much torn tail the last one has, for the caller to cut before appending.
 */
export function replay(
  state: HubState,
  generations: Array<{ name: string; data: Buffer | null }>,
): { tornBytes: number; validBytes: number } {
  const index = { inspections: new ListIndex(() => state.inspections), watches: new ListIndex(() => state.watches) };
  let where = '';
  const left = new LeftRecords(() => where);
  let last = { tornBytes: 0, validBytes: 0 };
  for (const { name, data } of generations) {
    last = { tornBytes: 0, validBytes: 0 };
    if (!data) continue;
    const parsed = parseJournal(data, name);
    parsed.records.forEach((record, n) => {
      where = `${name}: record ${n + 1}`;
      try {
        applyChanges(state, asChanges(record, name, n + 1), index, left);
      } catch (error) {
        if (error instanceof PdmError) throw error;
        throw new PdmError(
          'PDM_ERR_STORE_CORRUPT',
          `${name}: record ${n + 1} does not fit the state before it (${(error as Error).message})`,
          { cause: error },
        );
      }
    });
    last = { tornBytes: parsed.tornBytes, validBytes: parsed.validBytes };
  }
  const unsettled = left.unsettled();
  if (unsettled) {
    throw new PdmError(
      'PDM_ERR_STORE_CORRUPT',
      `${unsettled.where} changes ${unsettled.what} ${unsettled.id}, which neither the snapshot nor the journal before ` +
        `it holds, and which was never archived`,
    );
  }
  return last;
}

/**
 * The snapshot as stored: the state and the last journal generation it holds, so generations up to that one are not
 * replayed over it (an unnumbered one always is).
 */
export type SnapshotDocument = Omit<HubState, 'seenEvents'> & {
  seenEvents?: HubState['seenEvents'] | Record<string, string>;
  journalThrough?: number;
};

/** The stored document with the fields a hub that predates one of them would lack (and without `journalThrough`). */
export function fromSnapshot(data: SnapshotDocument | null): HubState {
  const { journalThrough: _through, seenEvents, ...state } = data ?? {};
  return {
    ...emptyState(),
    ...state,
    seenEvents: seenEvents instanceof SeenEvents ? seenEvents : SeenEvents.from(seenEvents),
  };
}

/**
 * What a hub's data directory holds, read without opening a store, also while the hub runs or after a kill: the
 * state replayed, then the archived records (the last of each).
 */
export function readStoredState(dataDir: string): HubState {
  return readStoredFiles((file: string): Buffer | null => {
    try {
      return readFileSync(join(dataDir, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  });
}

/** The same over any medium that can hand over the file engine's files by name (the SQLite engine's tables can). */
export function readStoredFiles(read: (file: string) => Buffer | null): HubState {
  const snapshot = read(SNAPSHOT_FILE);
  const state = fromSnapshot(snapshot ? (JSON.parse(snapshot.toString('utf8')) as SnapshotDocument) : null);
  replay(state, [
    { name: `${JOURNAL_FILE}.older`, data: read(`${JOURNAL_FILE}.older`) },
    { name: `${JOURNAL_FILE}.prev`, data: read(`${JOURNAL_FILE}.prev`) },
    { name: JOURNAL_FILE, data: read(JOURNAL_FILE) },
  ]);
  const archived = new Map<string, HubState['inspections'][number]>();
  const archivedWatches = new Map<string, HubState['watches'][number]>();
  const archiveFile = generationPath(ARCHIVE_FILE, state.archiveGeneration ?? 0);
  const archive = read(archiveFile);
  for (
    let start = 0, end = archive?.indexOf(0x0a) ?? -1;
    archive && end >= 0;
    start = end + 1, end = archive.indexOf(0x0a, start)
  ) {
    const decoded = decodeLine(archive.subarray(start, end));
    if (!decoded.ok || 'spill' in (decoded.value as object)) continue;
    const value = decoded.value as HubState['inspections'][number] | { watch: HubState['watches'][number] };
    if ('watch' in value) archivedWatches.set(value.watch.id, value.watch);
    else archived.set(value.id, value);
  }
  const hot = new Set([...state.inspections, ...state.watches].map((r) => r.id));
  // Spilled events back in their lists, so a reader sees every event each inspection took.
  state.inspections = state.inspections.map((i) => {
    if (!i.spilled || !archive) return i;
    const chunks: HubState['inspections'][number]['events'][] = [];
    for (let ref: ChunkRef | null = i.spilled.tail; ref;) {
      const decoded = decodeLine(archive.subarray(ref.at, ref.at + ref.bytes - 1));
      if (!decoded.ok) throw new Error(`${archiveFile}: spilled events of ${i.id} at byte ${ref.at}: ${decoded.why}`);
      const chunk = decoded.value as { prev: ChunkRef | null; events: HubState['inspections'][number]['events'] };
      chunks.push(chunk.events);
      ref = chunk.prev;
    }
    const { spilled: _spilled, ...rest } = i;
    return { ...rest, events: [...i.events.slice(0, 1), ...chunks.reverse().flat(), ...i.events.slice(1)] };
  });
  for (const [id, record] of archived) if (!hot.has(id)) state.inspections.push(record);
  for (const [id, watch] of archivedWatches) if (!hot.has(id)) state.watches.push(watch);
  return state;
}
