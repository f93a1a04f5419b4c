import { PdmError } from '../../../protocol/errors.js';
import { isClosed } from '../../inspections/records.js';
import { ARCHIVE_FILE, readStoredFiles } from '../restore.js';
import { HubStore, type StoreMedium } from '../store.js';
import type { SqlSession } from './session.js';
import { SqlDocument } from './sql-medium.js';

/** JSON documents the file engine kept beside its state that the database engines keep as rows (same names). */
export const IMPORTED_DOCUMENTS = ['sessions.json', 'training-jobs.json', 'webhooks.json'] as const;

/** What an import must carry over whole; a copy that counts otherwise is not used. */
export interface StoredCounts {
  /** Every inspection: open + closed + archived. */
  inspections: number;
  open: number;
  /** Closed and still in the state (not archived yet). */
  closed: number;
  archived: number;
  watches: number;
  events: number;
  devices: number;
  /** Login sessions and training jobs in their documents. */
  sessions: number;
  trainingJobs: number;
}

/** How many entries a sessions or training-jobs document lists (none without the document). */
const listed = (doc: unknown, key: 'sessions' | 'jobs'): number => {
  const list = (doc as Record<string, unknown> | null)?.[key];
  return Array.isArray(list) ? list.length : 0;
};

/**
 * The counts of a store read by the file engine's file names (a data directory, or a database's rows through
 * `sqlFiles`), without changing it. `where` names the source in errors.
 */
export function sourceCounts(read: (name: string) => Buffer | null, where: string): StoredCounts {
  const documents = IMPORTED_DOCUMENTS.map((name) => {
    const data = read(name);
    try {
      return data && (JSON.parse(data.toString('utf8')) as unknown);
    } catch (error) {
      throw new PdmError(
        'PDM_ERR_STORE_IMPORT',
        `${where}: ${name} is not valid JSON (${(error as Error).message}); nothing was imported`,
      );
    }
  });
  const all = readStoredFiles(read);
  // The state without the archive: what is hot (open, or closed and not archived yet).
  const hot = readStoredFiles((name) => (name.startsWith(ARCHIVE_FILE) ? null : read(name))).inspections;
  const open = hot.filter((i) => !isClosed(i.status)).length;
  return {
    inspections: all.inspections.length,
    open,
    closed: hot.length - open,
    archived: all.inspections.length - hot.length,
    watches: all.watches.length,
    events: all.inspections.reduce((n, i) => n + i.events.length, 0),
    devices: Object.keys(all.devices).length,
    sessions: listed(documents[0], 'sessions'),
    trainingJobs: listed(documents[1], 'jobs'),
  };
}

/** The same counts through a store opened over the database as the hub will open it, and its documents' rows. */
export async function databaseCounts(medium: StoreMedium & { close(): void }, db: SqlSession): Promise<StoredCounts> {
  const store = await HubStore.over(medium, { coalesceMs: 0 });
  try {
    const hot = store.hotInspections();
    const archived = Array.from(store.archivedSummaries(), (a) => a.id);
    const open = hot.filter((i) => !isClosed(i.status)).length;
    const ids = [...hot.map((i) => i.id), ...archived];
    const [sessions, jobs] = await Promise.all(IMPORTED_DOCUMENTS.map((name) => new SqlDocument(db, name).read()));
    return {
      inspections: ids.length,
      open,
      closed: hot.length - open,
      archived: archived.length,
      watches: store.state.watches.length + Array.from(store.archivedWatches()).length,
      events: ids.reduce((n, id) => n + (store.wholeInspection(id)?.events.length ?? 0), 0),
      devices: store.devices().length,
      sessions: listed(sessions, 'sessions'),
      trainingJobs: listed(jobs, 'jobs'),
    };
  } finally {
    await store.close();
    medium.close();
  }
}

/** The counts that differ, as an error message names them ("" when none does). */
export function differences(expected: StoredCounts, found: StoredCounts): string {
  return (Object.keys(expected) as Array<keyof StoredCounts>)
    .filter((k) => expected[k] !== found[k])
    .map((k) => `${k} (${found[k]} instead of ${expected[k]})`)
    .join(', ');
}
