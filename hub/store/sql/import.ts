import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PdmError } from '../../../protocol/errors.js';
import { PRIVATE_FILES, fsyncDirNow } from '../durable-file.js';
import { ARCHIVE_FILE, JOURNAL_FILE, readStoredState, SNAPSHOT_FILE } from '../restore.js';
import { HubStore } from '../store.js';
import { connect, transaction, type SqliteConnection } from './sqlite.js';
import { sqliteMedium } from './sqlite-medium.js';
import { SNAPSHOT_DOCUMENT } from './sql-medium.js';

/** What an import found and copied; `stage` says how far it got (a restart goes on from there). */
export interface ImportReport {
  stage: 'copied' | 'verified' | 'done';
  at: string;
  files: string[];
  counts?: StoredCounts;
  /** Where the file engine's files were moved once the copy was verified. */
  legacyDir?: string;
}

export interface StoredCounts {
  inspections: number;
  watches: number;
  events: number;
  devices: number;
}

/** The import's own row in `document`. */
export const IMPORT_DOCUMENT = 'import';

/** JSON documents the file engine kept beside its state that the database engine keeps as rows (same names). */
export const IMPORTED_DOCUMENTS = ['sessions.json', 'training-jobs.json'] as const;

const ARCHIVE_ROW = 1 << 20;

/** The file engine's files in `dataDir`: snapshot, journals, archive generations and their indexes, documents. */
export function legacyFiles(dataDir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch {
    return [];
  }
  const store = [SNAPSHOT_FILE, JOURNAL_FILE, ARCHIVE_FILE];
  return entries
    .filter(
      (name) =>
        store.some((base) => name === base || name.startsWith(`${base}.`)) ||
        (IMPORTED_DOCUMENTS as readonly string[]).includes(name),
    )
    .sort();
}

export function readImport(db: SqliteConnection): ImportReport | undefined {
  const row = db.prepare('select body from document where name = ?').get([IMPORT_DOCUMENT]) as
    { body: string } | undefined;
  return row ? (JSON.parse(row.body) as ImportReport) : undefined;
}

function writeImport(db: SqliteConnection, report: ImportReport): void {
  db.prepare(
    'insert into document (name, body) values (?, ?) on conflict (name) do update set body = excluded.body',
  ).run([IMPORT_DOCUMENT, JSON.stringify(report)]);
}

/** Whether the database was written by a hub (not just created): an import would replace that. */
function holdsState(db: SqliteConnection): boolean {
  return (
    db.prepare('select 1 from journal limit 1').get([]) !== undefined ||
    db.prepare('select 1 from document where name = ?').get([SNAPSHOT_DOCUMENT]) !== undefined
  );
}

/** Archive generation n of the file engine: `inspections.archive` (0) or `inspections.archive.n`. */
const archiveGeneration = (name: string): number | undefined => {
  if (name === ARCHIVE_FILE) return 0;
  const rest = name.slice(ARCHIVE_FILE.length + 1);
  return name.startsWith(`${ARCHIVE_FILE}.`) && /^\d+$/.test(rest) ? Number(rest) : undefined;
};

/**
 * Copies every file of the file engine into the database in one transaction: killed part way, nothing of it is
 * committed and the next start copies again from the files, which are untouched until the copy is verified.
 */
function copyFiles(db: SqliteConnection, file: string, dataDir: string, files: string[]): void {
  const read = (name: string): Buffer | null => (files.includes(name) ? readFileSync(join(dataDir, name)) : null);
  transaction(db, file, () => {
    for (const table of ['journal', 'archive', 'archive_generation']) db.prepare(`delete from ${table}`).run([]);
    db.prepare('delete from document').run([]);
    const snapshot = read(SNAPSHOT_FILE);
    if (snapshot) {
      try {
        JSON.parse(snapshot.toString('utf8'));
      } catch (error) {
        throw new PdmError(
          'PDM_ERR_STORE_IMPORT',
          `${join(dataDir, SNAPSHOT_FILE)} is not valid JSON (${(error as Error).message}); nothing was imported`,
        );
      }
      db.prepare('insert into document (name, body) values (?, ?)').run([SNAPSHOT_DOCUMENT, snapshot.toString('utf8')]);
    }
    // Slots: older 1, previous 2, current 3 (sqlite-medium.ts numbers them so).
    const older = read(`${JOURNAL_FILE}.older`);
    const journal = [older, read(`${JOURNAL_FILE}.prev`), read(JOURNAL_FILE)];
    const insert = db.prepare('insert into journal (slot, data) values (?, ?)');
    journal.forEach((data, i) => data && data.length > 0 && insert.run([i + 1, data]));
    db.prepare('update journal_state set current = 3, has_older = ? where id = 1').run([older ? 1 : 0]);
    for (const name of files) {
      const generation = archiveGeneration(name);
      if (generation === undefined) continue;
      // Read a row at a time: an archive may be far bigger than memory should hold.
      const fd = openSync(join(dataDir, name), 'r');
      try {
        const row = Buffer.allocUnsafe(ARCHIVE_ROW);
        for (let at = 0, n = 0; (n = readSync(fd, row, 0, ARCHIVE_ROW, at)) > 0; at += n)
          db.prepare('insert into archive (gen, at, data) values (?, ?, ?)').run([generation, at, row.subarray(0, n)]);
      } finally {
        closeSync(fd);
      }
      const index = read(`${name}.index`);
      db.prepare('insert into archive_generation (gen, index_data) values (?, ?)').run([generation, index]);
    }
    for (const name of IMPORTED_DOCUMENTS) {
      const data = read(name);
      if (data) db.prepare('insert into document (name, body) values (?, ?)').run([name, data.toString('utf8')]);
    }
    writeImport(db, { stage: 'copied', at: new Date().toISOString(), files });
  });
}

/** Counts of what the file engine's directory holds, read without changing it. */
function fileCounts(dataDir: string): StoredCounts {
  const state = readStoredState(dataDir);
  return {
    inspections: state.inspections.length,
    watches: state.watches.length,
    events: state.inspections.reduce((n, i) => n + i.events.length, 0),
    devices: Object.keys(state.devices).length,
  };
}

/** The same counts through a store opened over the database, as the hub will open it. */
async function databaseCounts(file: string): Promise<StoredCounts> {
  const medium = sqliteMedium(file);
  const store = await HubStore.over(medium, { coalesceMs: 0 });
  try {
    const ids = [...store.state.inspections.map((i) => i.id), ...Array.from(store.archivedSummaries(), (a) => a.id)];
    return {
      inspections: ids.length,
      watches: store.state.watches.length + Array.from(store.archivedWatches()).length,
      events: ids.reduce((n, id) => n + (store.wholeInspection(id)?.events.length ?? 0), 0),
      devices: store.devices().length,
    };
  } finally {
    await store.close();
    medium.close();
  }
}

/** Moves the imported files to `legacy-<date>/` (kept until `pdm hub migrate --remove-old`). */
function moveLegacy(dataDir: string, files: string[], legacyDir: string): void {
  mkdirSync(legacyDir, { recursive: true, mode: PRIVATE_FILES.dirMode });
  for (const name of files) if (existsSync(join(dataDir, name))) renameSync(join(dataDir, name), join(legacyDir, name));
  fsyncDirNow(legacyDir);
  fsyncDirNow(dataDir);
}

/**
 * The first start of the SQLite engine over a directory the file engine wrote: copy, verify the counts, move the old
 * files aside. Each step is recorded, so a start after a kill at any point goes on from the last finished one.
 * Returns the report, or undefined when there was nothing to import.
 */
export async function importFileState(
  dataDir: string,
  file: string,
  now = new Date(),
): Promise<ImportReport | undefined> {
  const db = connect(file);
  try {
    let report = readImport(db);
    if (report?.stage === 'done') return report;
    if (report?.stage !== 'verified') {
      const files = legacyFiles(dataDir);
      if (!files.some((name) => !(IMPORTED_DOCUMENTS as readonly string[]).includes(name))) return undefined;
      if (!report && holdsState(db)) {
        throw new PdmError(
          'PDM_ERR_STORE_IMPORT',
          `${file} already holds a hub's state and ${dataDir} also holds the file engine's (${files.join(', ')}); ` +
            'move one of them aside: the hub imports files only into a new database',
        );
      }
      copyFiles(db, file, dataDir, files);
      const expected = fileCounts(dataDir);
      const found = await databaseCounts(file);
      const differs = (Object.keys(expected) as Array<keyof StoredCounts>).filter((k) => expected[k] !== found[k]);
      if (differs.length > 0) {
        throw new PdmError(
          'PDM_ERR_STORE_IMPORT',
          `${file}: the imported state differs from ${dataDir}'s files in ${differs
            .map((k) => `${k} (${found[k]} instead of ${expected[k]})`)
            .join(', ')}; the files are kept as they are and the hub does not start`,
        );
      }
      const legacyDir = join(dataDir, `legacy-${now.toISOString().slice(0, 10)}`);
      report = { stage: 'verified', at: now.toISOString(), files, counts: expected, legacyDir };
      writeImport(db, report);
    }
    moveLegacy(dataDir, report.files, report.legacyDir!);
    report = { ...report, stage: 'done' };
    writeImport(db, report);
    return report;
  } finally {
    db.close();
  }
}
