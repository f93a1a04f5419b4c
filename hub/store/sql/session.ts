import { PdmError } from '../../../protocol/errors.js';
import type { SqliteConnection } from './sqlite.js';

/**
 * The few calls the SQL medium makes, synchronous because the store's reads are (correlation may read an archived
 * record mid-event). SQLite answers on this thread; PostgreSQL through a thread that waits for the server (pg.ts).
 * Statements use `?` placeholders.
 */
export interface SqlSession {
  /** Named in error messages: the database file, or the server without its password. */
  readonly where: string;
  all<R>(sql: string, params?: unknown[]): R[];
  get<R>(sql: string, params?: unknown[]): R | undefined;
  run(sql: string, params?: unknown[]): void;
  /** Several statements in order, their rows each: one wait for PostgreSQL's thread instead of one per statement. */
  batch(statements: Array<[sql: string, params?: unknown[]]>): unknown[][];
  /** Runs `fn` in one transaction (one commit, one fsync); a throw rolls it all back. */
  transaction<T>(fn: () => T): T;
  readonly open: boolean;
  close(): void;
}

export const databaseError = (where: string, error: unknown): PdmError =>
  error instanceof PdmError
    ? error
    : new PdmError('PDM_ERR_STORE_DATABASE', `${where}: ${(error as Error).message}`, { cause: error });

/** A blob column's value as a Buffer (the drivers hand some back as ArrayBuffer or Uint8Array). */
export function asBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  const view = value as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A libsql connection as a session, its statements prepared once. */
export function sqliteSession(db: SqliteConnection, file: string): SqlSession {
  const statements = new Map<string, ReturnType<SqliteConnection['prepare']>>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const naming = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw databaseError(file, error);
    }
  };
  return {
    where: file,
    all: <R>(sql: string, params: unknown[] = []) => naming(() => prepared(sql).all(params) as R[]),
    get: <R>(sql: string, params: unknown[] = []) => naming(() => prepared(sql).get(params) as R | undefined),
    run: (sql, params = []) => void naming(() => prepared(sql).run(params)),
    batch: (statements) =>
      naming(() =>
        statements.map(([sql, params = []]) => {
          const statement = prepared(sql);
          return statement.reader ? (statement.all(params) as unknown[]) : (statement.run(params), []);
        }),
      ),
    transaction: <T>(fn: () => T) => naming(() => db.transaction(fn)()),
    get open() {
      return db.open;
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}
