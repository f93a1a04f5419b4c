import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PdmError } from '../../../protocol/errors.js';
import { PRIVATE_FILES, fsyncDirNow } from '../durable-file.js';
import { ARCHIVE_FILE, JOURNAL_FILE, SNAPSHOT_FILE } from '../restore.js';
import { databaseCounts, differences, IMPORTED_DOCUMENTS, sourceCounts, type StoredCounts } from './import-counts.js';
import type { ImportTarget } from './import-target.js';
import type { SqlSession } from './session.js';
import { SNAPSHOT_DOCUMENT } from './sql-medium.js';

export { IMPORTED_DOCUMENTS, type StoredCounts } from './import-counts.js';

/** What an import found and copied; `stage` says how far it got (a restart goes on from there). */
export interface ImportReport {
  stage: 'copied' | 'verified' | 'done';
  at: string;
  /** What was imported: a file engine's data directory or a SQLite database (absent in reports before both). */
  source?: string;
  files: string[];
  counts?: StoredCounts;
  /** Where the file engine's files were moved once the copy was verified. */
  legacyDir?: string;
}

/** The import's own row in `document`. */
export const IMPORT_DOCUMENT = 'import';

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

export function readImport(db: SqlSession): ImportReport | undefined {
  const row = db.get<{ body: string }>('select body from document where name = ?', [IMPORT_DOCUMENT]);
  return row ? (JSON.parse(row.body) as ImportReport) : undefined;
}

function writeImport(db: SqlSession, report: ImportReport): void {
  db.run('insert into document (name, body) values (?, ?) on conflict (name) do update set body = excluded.body', [
    IMPORT_DOCUMENT,
    JSON.stringify(report),
  ]);
}

/** Whether the database holds anything but an import's record: an import would replace a hub's state. */
function holdsState(db: SqlSession): boolean {
  return (
    db.get('select 1 as one from journal limit 1') !== undefined ||
    db.get('select 1 as one from archive limit 1') !== undefined ||
    db.get('select 1 as one from document where name <> ? limit 1', [IMPORT_DOCUMENT]) !== undefined
  );
}

/** Empties the tables a copy fills, inside the copy's transaction (a copy that a kill left half done is redone). */
export function clearStore(db: SqlSession): void {
  for (const table of ['journal', 'archive', 'archive_generation', 'document']) db.run(`delete from ${table}`);
}

/** Archive generation n of the file engine: `inspections.archive` (0) or `inspections.archive.n`. */
const archiveGeneration = (name: string): number | undefined => {
  if (name === ARCHIVE_FILE) return 0;
  const rest = name.slice(ARCHIVE_FILE.length + 1);
  return name.startsWith(`${ARCHIVE_FILE}.`) && /^\d+$/.test(rest) ? Number(rest) : undefined;
};

/** Copies every file of the file engine into the database's tables (the caller holds the transaction). */
function copyFiles(db: SqlSession, dataDir: string, files: string[]): void {
  const read = (name: string): Buffer | null => (files.includes(name) ? readFileSync(join(dataDir, name)) : null);
  clearStore(db);
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
    db.run('insert into document (name, body) values (?, ?)', [SNAPSHOT_DOCUMENT, snapshot.toString('utf8')]);
  }
  // Slots: older 1, previous 2, current 3 (sql-medium.ts numbers them so).
  const older = read(`${JOURNAL_FILE}.older`);
  const journal = [older, read(`${JOURNAL_FILE}.prev`), read(JOURNAL_FILE)];
  journal.forEach(
    (data, i) => data && data.length > 0 && db.run('insert into journal (slot, data) values (?, ?)', [i + 1, data]),
  );
  db.run('update journal_state set current = 3, has_older = ? where id = 1', [older ? 1 : 0]);
  for (const name of files) {
    const generation = archiveGeneration(name);
    if (generation === undefined) continue;
    // Read a row at a time: an archive may be far bigger than memory should hold.
    const fd = openSync(join(dataDir, name), 'r');
    try {
      const row = Buffer.allocUnsafe(ARCHIVE_ROW);
      for (let at = 0, n = 0; (n = readSync(fd, row, 0, ARCHIVE_ROW, at)) > 0; at += n)
        db.run('insert into archive (gen, at, data) values (?, ?, ?)', [generation, at, row.subarray(0, n)]);
    } finally {
      closeSync(fd);
    }
    db.run('insert into archive_generation (gen, index_data) values (?, ?)', [generation, read(`${name}.index`)]);
  }
  for (const name of IMPORTED_DOCUMENTS) {
    const data = read(name);
    if (data) db.run('insert into document (name, body) values (?, ?)', [name, data.toString('utf8')]);
  }
}

/** What one kind of import copies from where, and what its source counts. */
export interface ImportSource {
  /** A data directory or a database file, as reports and errors name it. */
  readonly name: string;
  /** Fills the emptied tables (within the copy's transaction). */
  copy(db: SqlSession): void;
  counts(): StoredCounts;
  files: string[];
}

/**
 * Copies `source` into the target in one transaction, then opens the copy as the hub will and compares the counts:
 * killed part way, nothing of the copy is committed, and a copy committed but not yet verified is made again.
 * Refuses a target that holds a hub's state of its own (or another source's import).
 */
export async function copyVerified(db: SqlSession, target: ImportTarget, source: ImportSource): Promise<ImportReport> {
  const report = readImport(db);
  if (report ? (report.source ?? source.name) !== source.name : holdsState(db)) {
    const what = report ? `the import of ${report.source}` : "a hub's state";
    throw new PdmError(
      'PDM_ERR_STORE_NOT_EMPTY',
      `${target.where} already holds ${what}; ${source.name} is imported only into an empty database ` +
        '(create a new one, or move this one aside)',
    );
  }
  const at = new Date().toISOString();
  db.transaction(() => {
    source.copy(db);
    writeImport(db, { stage: 'copied', at, source: source.name, files: source.files });
  });
  const expected = source.counts();
  const found = await databaseCounts(target.medium(), db);
  const differs = differences(expected, found);
  if (differs) {
    throw new PdmError(
      'PDM_ERR_STORE_IMPORT',
      `${target.where}: the imported state differs from ${source.name} in ${differs}; the source is kept as it is ` +
        'and the hub does not start',
    );
  }
  return { stage: 'verified', at, source: source.name, files: source.files, counts: expected };
}

/** Moves the imported files to `legacy-<date>/` (kept until `pdm hub migrate --remove-old`). */
function moveLegacy(dataDir: string, files: string[], legacyDir: string): void {
  mkdirSync(legacyDir, { recursive: true, mode: PRIVATE_FILES.dirMode });
  for (const name of files) if (existsSync(join(dataDir, name))) renameSync(join(dataDir, name), join(legacyDir, name));
  fsyncDirNow(legacyDir);
  fsyncDirNow(dataDir);
}

/**
 * The first start of a database engine over a directory the file engine wrote: copy, verify the counts, move the old
 * files aside. Each step is recorded, so a start after a kill at any point goes on from the last finished one.
 * Returns the report, or undefined when there was nothing to import.
 */
export async function importFileState(
  dataDir: string,
  target: ImportTarget,
  now = new Date(),
): Promise<ImportReport | undefined> {
  const db = target.session();
  try {
    let report = readImport(db);
    if (report?.stage === 'done') return report;
    if (report?.stage !== 'verified') {
      const files = legacyFiles(dataDir);
      if (!files.some((name) => !(IMPORTED_DOCUMENTS as readonly string[]).includes(name))) return undefined;
      const source = {
        name: dataDir,
        files,
        copy: (into: SqlSession) => copyFiles(into, dataDir, files),
        counts: () =>
          sourceCounts((name) => (files.includes(name) ? readFileSync(join(dataDir, name)) : null), dataDir),
      };
      const legacyDir = join(dataDir, `legacy-${now.toISOString().slice(0, 10)}`);
      report = { ...(await copyVerified(db, target, source)), at: now.toISOString(), legacyDir };
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

/** Records a verified import as done (an import with nothing to move afterwards). */
export function finishImport(db: SqlSession, report: ImportReport): ImportReport {
  const done = { ...report, stage: 'done' as const };
  writeImport(db, done);
  return done;
}
