import { CoalescedWriter } from '../store/coalesced-writer.js';
import type { DocumentAdapter } from '../store/durable-file.js';

/** What is kept per session: a hash of the cookie token, never the token (nor anything derived from it). */
export interface StoredSession {
  tokenHash: string;
  user: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionDocument {
  schema: 1;
  sessions: StoredSession[];
}

/**
 * Where login sessions are kept: one hub process's document (SessionDocuments), or rows every hub process of a
 * cluster reads (hub/store/shared/sessions.ts). test/contracts/session-keeper.contract.ts holds both to one contract.
 */
export interface SessionKeeper {
  /** The session kept under this token hash now (made through any process sharing the keeper), or undefined. */
  find(tokenHash: string): StoredSession | undefined;
  /** Kept before it resolves: a login is answered only once it would survive a restart. */
  add(session: StoredSession): Promise<void>;
  /** Gone before it resolves (a logout); an unknown hash is no error. */
  remove(tokenHash: string): Promise<void>;
  /** A used session's new idle deadline; kept lazily, so a crash can only end a session a little early. */
  slide(session: StoredSession, expiresAt: number): void;
  /** Sessions kept that have not expired. */
  count(): number;
  /** Writes what is pending. */
  close(): Promise<void>;
}

export interface KeeperOptions {
  now: () => number;
  /** A slide is written once it moved a session's deadline this far from what is kept. */
  lazyMs: number;
}

/** Sessions in this process's memory, written as one document (the data directory's file, or a database row). */
export class SessionDocuments implements SessionKeeper {
  private readonly sessions = new Map<string, StoredSession>();
  /** Expiry as last written, per token hash. */
  private readonly written = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly writer: CoalescedWriter | undefined;

  private constructor(
    private readonly file: DocumentAdapter<SessionDocument> | undefined,
    private readonly opts: KeeperOptions,
  ) {
    if (file) this.writer = new CoalescedWriter(() => this.write(file));
  }

  /** Without a file, sessions live in memory only (a restart logs everyone out). */
  static async open(
    file: DocumentAdapter<SessionDocument> | undefined,
    opts: KeeperOptions,
  ): Promise<SessionDocuments> {
    const keeper = new SessionDocuments(file, opts);
    const now = opts.now();
    for (const s of (await file?.read())?.sessions ?? []) {
      if (s.expiresAt <= now) continue;
      keeper.sessions.set(s.tokenHash, { ...s });
      keeper.written.set(s.tokenHash, s.expiresAt);
    }
    return keeper;
  }

  find(tokenHash: string): StoredSession | undefined {
    const s = this.sessions.get(tokenHash);
    return s && { ...s };
  }

  add(session: StoredSession): Promise<void> {
    this.sessions.set(session.tokenHash, { ...session });
    return this.persist();
  }

  async remove(tokenHash: string): Promise<void> {
    if (this.sessions.delete(tokenHash)) await this.persist();
  }

  slide(session: StoredSession, expiresAt: number): void {
    const kept = this.sessions.get(session.tokenHash);
    if (!kept || expiresAt <= kept.expiresAt) return;
    kept.expiresAt = expiresAt;
    if (expiresAt - (this.written.get(session.tokenHash) ?? 0) > this.opts.lazyMs) this.schedule();
  }

  count(): number {
    const now = this.opts.now();
    let n = 0;
    for (const s of this.sessions.values()) if (s.expiresAt > now) n += 1;
    return n;
  }

  async close(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      await this.persist();
    }
    await this.writer?.idle();
  }

  private schedule(): void {
    if (!this.file || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // A failed lazy write only risks a session ending early after a crash; the next write retries it.
      this.persist().catch(() => undefined);
    }, 1000);
    this.flushTimer.unref();
  }

  /** Resolves once the live sessions as they are now are written (writes are coalesced, one at a time). */
  private persist(): Promise<void> {
    return this.writer?.request() ?? Promise.resolve();
  }

  private async write(file: DocumentAdapter<SessionDocument>): Promise<void> {
    const now = this.opts.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
    const sessions = [...this.sessions.values()].map((s) => ({ ...s }));
    await file.write({ schema: 1, sessions });
    this.written.clear();
    for (const s of sessions) this.written.set(s.tokenHash, s.expiresAt);
  }
}
