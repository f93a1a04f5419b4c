import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createSyncFn } from 'synckit';
import { foldGeneration, foldWorkerUrl, type Folder } from '../fold.js';
import type { SnapshotDocument } from '../restore.js';
import type { StoreMedium } from '../store.js';
import { migrate } from './migrations.js';
import { databaseError, type SqlSession } from './session.js';
import { SharedSession, SNAPSHOT_DOCUMENT, SqlArchive, SqlDocument, SqlJournal } from './sql-medium.js';

type Call = (op: 'open' | 'query' | 'batch' | 'close', id: number, arg?: string, params?: unknown[]) => unknown[];

let call: Call | undefined;

/** A server that does not answer within this long fails the call (and the commit) instead of hanging the hub. */
const CALL_TIMEOUT_MS = 30_000;
let sessions = 0;

/** The server as logs and errors may name it: no password. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres (unparsable store.url)';
  }
}

/**
 * A PostgreSQL session with the synchronous calls the store makes (session.ts): each waits on this thread for a
 * worker thread's client (synckit), so a commit blocks the event loop for one round trip to the server.
 */
export function pgSession(url: string): SqlSession {
  const where = redact(url);
  const id = (sessions += 1);
  call ??= createSyncFn<Call>(foldWorkerUrl('sql/pg-worker.js'), { timeout: CALL_TIMEOUT_MS });
  const worker = call;
  const run = (op: 'open' | 'query' | 'batch' | 'close', arg?: string, params?: unknown[]) => {
    try {
      return worker(op, id, arg, params);
    } catch (error) {
      throw databaseError(where, error);
    }
  };
  // `?` placeholders (shared with SQLite) as PostgreSQL's numbered ones.
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${(n += 1)}`);
  };
  run('open', url);
  let open = true;
  let depth = 0;
  const session: SqlSession = {
    where,
    all: <R>(sql: string, params: unknown[] = []) => run('query', numbered(sql), params) as R[],
    get: <R>(sql: string, params: unknown[] = []) => (run('query', numbered(sql), params) as R[])[0],
    run: (sql, params = []) => void run('query', numbered(sql), params),
    batch: (statements) =>
      run(
        'batch',
        '',
        statements.map(([sql, params = []]) => [numbered(sql), params]),
      ) as unknown[][],
    transaction: <T>(fn: () => T): T => {
      if (depth > 0) return fn();
      run('query', 'begin');
      depth += 1;
      try {
        const result = fn();
        run('query', 'commit');
        return result;
      } catch (error) {
        run('query', 'rollback');
        throw error;
      } finally {
        depth -= 1;
      }
    },
    get open() {
      return open;
    },
    close: () => {
      if (!open) return;
      open = false;
      run('close');
    },
  };
  return session;
}

/** Creates the schema or brings it up to date (Kysely's migrator, the same migrations as SQLite's). */
export async function preparePostgres(url: string): Promise<void> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
  });
  try {
    await migrate(db, 'bytea', redact(url));
  } catch (error) {
    throw databaseError(redact(url), error);
  } finally {
    await db.destroy();
  }
}

/** Folds on the event loop's thread over the same session (a thread of its own is future work, docs/operations.md). */
class SessionFolder implements Folder {
  constructor(private readonly db: SqlSession) {}
  async fold(dedupSince: number): Promise<number> {
    const { previous } = await new SqlJournal(this.db).read();
    const name = `${this.db.where} (journal, previous)`;
    return foldGeneration(
      new SqlDocument<SnapshotDocument>(this.db, SNAPSHOT_DOCUMENT),
      { name, data: previous },
      dedupSince,
    );
  }
  start(): void {}
  async close(): Promise<void> {}
}

/** A StoreMedium on a PostgreSQL server (schema made by `preparePostgres` first). */
export function postgresMedium(url: string): StoreMedium & { close(): void } {
  const db = pgSession(url);
  const shared = new SharedSession(db);
  return {
    snapshot: new SqlDocument<SnapshotDocument>(db, SNAPSHOT_DOCUMENT),
    journal: new SqlJournal(db, shared),
    folder: new SessionFolder(db),
    archive: new SqlArchive(db, shared),
    engine: { name: 'postgres', location: db.where },
    close: () => db.close(),
  };
}
