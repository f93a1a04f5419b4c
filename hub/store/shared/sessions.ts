import type { KeeperOptions, SessionKeeper, StoredSession } from '../../http/session-keepers.js';
import type { SqlSession } from '../sql/session.js';

interface SessionRow {
  token_hash: string;
  user_name: string;
  created_at: string | number;
  expires_at: string | number;
}

/** Expired rows are deleted at most this often (by whichever process logs someone in). */
const PURGE_EVERY_MS = 60_000;

/**
 * Login sessions as rows of `shared_session` (migration 006-shared-sessions), read on every request: a login through
 * one hub process is valid at all of them, and a logout through one ends the session at all of them at once.
 */
export class SqlSessions implements SessionKeeper {
  private purgedAt = 0;

  constructor(
    private readonly db: SqlSession,
    private readonly opts: KeeperOptions,
  ) {}

  find(tokenHash: string): StoredSession | undefined {
    const row = this.db.get<SessionRow>(
      'select token_hash, user_name, created_at, expires_at from shared_session where token_hash = ?',
      [tokenHash],
    );
    return (
      row && {
        tokenHash: row.token_hash,
        user: row.user_name,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
      }
    );
  }

  async add(session: StoredSession): Promise<void> {
    const now = this.opts.now();
    const purge = now - this.purgedAt >= PURGE_EVERY_MS;
    const insert: [string, unknown[]] = [
      'insert into shared_session (token_hash, user_name, created_at, expires_at) values (?, ?, ?, ?)',
      [session.tokenHash, session.user, session.createdAt, session.expiresAt],
    ];
    this.db.batch(purge ? [['delete from shared_session where expires_at <= ?', [now]], insert] : [insert]);
    if (purge) this.purgedAt = now;
  }

  async remove(tokenHash: string): Promise<void> {
    this.db.run('delete from shared_session where token_hash = ?', [tokenHash]);
  }

  slide(session: StoredSession, expiresAt: number): void {
    // A row only moves forward: two processes sliding one session at once keep the later deadline.
    if (expiresAt - session.expiresAt > this.opts.lazyMs)
      this.db.run('update shared_session set expires_at = ? where token_hash = ? and expires_at < ?', [
        expiresAt,
        session.tokenHash,
        expiresAt,
      ]);
  }

  count(): number {
    const row = this.db.get<{ n: string | number }>('select count(*) as n from shared_session where expires_at > ?', [
      this.opts.now(),
    ]);
    return Number(row?.n ?? 0);
  }

  async close(): Promise<void> {}
}
