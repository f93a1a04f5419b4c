import { existsSync } from 'node:fs';
import Database from 'libsql';
import { PdmError } from '../../../protocol/errors.js';
import { sourceCounts } from './import-counts.js';
import type { ImportTarget } from './import-target.js';
import { clearStore, copyVerified, finishImport, readImport, type ImportReport } from './import.js';
import { asBuffer, sqliteSession, type SqlSession } from './session.js';
import { sqlFiles } from './sql-medium.js';
import { naming } from './sqlite.js';

/** Rows per read and insert statement: archive rows may be a MiB each, the other tables' are small. */
const PAGE_ROWS = 256;
const ARCHIVE_PAGE_ROWS = 16;

/** A column's value for the target: bytes as a Buffer (libsql may hand them back as an ArrayBuffer). */
const value = (v: unknown): unknown => (v instanceof ArrayBuffer || v instanceof Uint8Array ? asBuffer(v) : v);

/**
 * Copies `table` in `key` order a page at a time (keyset pages, so a large archive is never held whole), each page
 * one insert statement: a round trip each on PostgreSQL.
 */
function copyTable(
  from: SqlSession,
  into: SqlSession,
  table: string,
  columns: string[],
  key: string[],
  page = PAGE_ROWS,
) {
  const tuple = (n: number) => `(${Array.from({ length: n }, () => '?').join(', ')})`;
  for (let after: unknown[] | undefined; ;) {
    const rows = from.all<Record<string, unknown>>(
      `select ${columns.join(', ')} from ${table} ${after ? `where (${key.join(', ')}) > ${tuple(key.length)}` : ''} ` +
        `order by ${key.join(', ')} limit ${page}`,
      after,
    );
    if (rows.length > 0)
      into.run(
        `insert into ${table} (${columns.join(', ')}) values ${rows.map(() => tuple(columns.length)).join(', ')}`,
        rows.flatMap((row) => columns.map((c) => value(row[c]))),
      );
    if (rows.length < page) return;
    after = key.map((k) => rows.at(-1)![k]);
  }
}

/**
 * Copies a hub database's rows as they are (journal ids and slots, archive offsets, documents; the source's own
 * import record is replaced by the target's). The caller holds the target's transaction.
 */
function copyRows(from: SqlSession, into: SqlSession, target: ImportTarget): void {
  clearStore(into);
  copyTable(from, into, 'journal', ['id', 'slot', 'data'], ['id']);
  target.renumber?.(into);
  const state = from.get<{ current: number; has_older: number }>(
    'select current, has_older from journal_state where id = 1',
  );
  if (state)
    into.run('update journal_state set current = ?, has_older = ? where id = 1', [state.current, state.has_older]);
  copyTable(from, into, 'archive', ['gen', 'at', 'data'], ['gen', 'at'], ARCHIVE_PAGE_ROWS);
  copyTable(from, into, 'archive_generation', ['gen', 'index_data'], ['gen']);
  copyTable(from, into, 'document', ['name', 'body'], ['name']);
}

/**
 * `pdm hub migrate --from-sqlite`: a SQLite engine's hub.db copied into the target (PostgreSQL), verified by the
 * same counts as a file import. The source is only read; a finished import of the same file is not done again.
 */
export async function importSqlite(file: string, target: ImportTarget): Promise<ImportReport> {
  if (!existsSync(file))
    throw new PdmError('PDM_ERR_STORE_DATABASE', `${file} does not exist: name the hub.db of a SQLite engine hub`);
  const source = sqliteSession(
    naming(file, () => new Database(file, { readonly: true })),
    file,
  );
  const db = target.session();
  try {
    const report = readImport(db);
    if (report?.stage === 'done' && report.source === file) return report;
    const own = readImport(source);
    if (own && own.stage !== 'done')
      throw new PdmError(
        'PDM_ERR_STORE_IMPORT',
        `${file}: its own import of ${own.source ?? 'a file-engine directory'} stopped at stage ${own.stage}; ` +
          'finish it first (start the hub on it once, or pdm hub migrate with store.engine sqlite)',
      );
    const verified = await copyVerified(db, target, {
      name: file,
      files: [],
      copy: (into) => copyRows(source, into, target),
      counts: () => sourceCounts(sqlFiles(source), file),
    });
    return finishImport(db, verified);
  } finally {
    db.close();
    source.close();
  }
}
