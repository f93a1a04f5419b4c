import type { StoreMedium } from '../store.js';
import { pgSession, postgresMedium, redact } from './pg.js';
import { sqliteSession, type SqlSession } from './session.js';
import { connect } from './sqlite.js';
import { sqliteMedium } from './sqlite-medium.js';

/** The database an import writes into, whichever engine: its rows through a session, its state through a medium. */
export interface ImportTarget {
  /** Named in reports and errors (a server without its password). */
  readonly where: string;
  /** A session of the import's own for the copy and its record. */
  session(): SqlSession;
  /** The store's medium over the database, opened as the hub opens it, to count what the copy holds. */
  medium(): StoreMedium & { close(): void };
  /** After rows were copied with their ids: moves the id sequence past them (SQLite's autoincrement follows itself). */
  renumber?(db: SqlSession): void;
}

/** The SQLite engine's hub.db (schema made by `prepareSqlite` first). */
export const sqliteTarget = (file: string): ImportTarget => ({
  where: file,
  session: () => sqliteSession(connect(file), file),
  medium: () => sqliteMedium(file),
});

/** A PostgreSQL database (schema made by `preparePostgres` first). */
export const postgresTarget = (url: string): ImportTarget => ({
  where: redact(url),
  session: () => pgSession(url),
  medium: () => postgresMedium(url),
  renumber: (db) =>
    db.run(
      "select setval(pg_get_serial_sequence('journal', 'id'), (select coalesce(max(id), 0) + 1 from journal), false)",
    ),
});
