import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import Database from 'libsql';
import { PdmError } from '../../../protocol/errors.js';
import { PRIVATE_FILES } from '../durable-file.js';
import { migrate } from './migrations.js';

export type SqliteConnection = InstanceType<typeof Database>;

/** The hub's database file in its data directory. */
export const SQLITE_FILE = 'hub.db';

const failure = (file: string, error: unknown) =>
  error instanceof PdmError
    ? error
    : new PdmError('PDM_ERR_STORE_DATABASE', `${file}: ${(error as Error).message}`, { cause: error });

/** Runs `fn`, turning a driver error into one that names the database file. */
export function naming<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw failure(file, error);
  }
}

/**
 * A connection in WAL mode with synchronous=FULL: a commit is on disk (fsync) when it returns. A writer waits for
 * another connection's write (the fold thread's snapshot) instead of failing.
 */
export function connect(file: string): SqliteConnection {
  return naming(file, () => {
    mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_FILES.dirMode });
    const db = new Database(file);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;');
    return db;
  });
}

/** Password hashes and sessions live in it: the file and its WAL are the hub user's only. */
function keepPrivate(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, PRIVATE_FILES.mode);
}

/** Creates the database or brings its schema up to date (Kysely's migrator, migrations.ts). */
export async function prepareSqlite(file: string): Promise<void> {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: connect(file) }) });
  try {
    await migrate(db, 'blob', file);
  } catch (error) {
    throw failure(file, error);
  } finally {
    await db.destroy();
  }
  keepPrivate(file);
}

/** Runs `fn` in one transaction (one fsync at its commit); a throw rolls everything back. */
export function transaction<T>(db: SqliteConnection, file: string, fn: () => T): T {
  return naming(file, () => db.transaction(fn)());
}
