import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PdmError } from '../../protocol/errors.js';
import type { Role } from '../inspections/roles.js';
import { CoalescedWriter } from '../store/coalesced-writer.js';
import type { DocumentAdapter } from '../store/durable-file.js';

export interface Session {
  user: string;
  /** The user's role now (read from the identities on every request, so a changed role applies at once). */
  role: Role;
  /** Echoed by the browser in `x-csrf-token` on every mutating request; a cross-site form cannot read it. */
  csrf: string;
  expiresAt: number;
}

/** What is kept on disk per session: a hash of the cookie token, never the token (nor anything derived from it). */
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

export const SESSION_COOKIE = 'pdm_session';
export const SESSION_FILE = 'sessions.json';

/**
 * The request's cookies by name. A value with a malformed % escape (another application's cookie on the same host,
 * or a hostile one) is skipped, never an error: it must not take /healthz or the login down with it.
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // URIError: not a cookie of ours.
    }
  }
  return out;
}

export function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('base64url');
/** The CSRF token is a MAC of the HttpOnly cookie's token: only a page that was given it at login can send it. */
const csrfOf = (token: string): string => createHmac('sha256', token).update('pdm-csrf-v1').digest('base64url');

export interface SessionStoreOptions {
  /** A session ends after this long without a request. */
  ttlMs: number;
  /** ...and this long after login however much it is used (a stolen cookie does not live for ever). */
  maxAgeMs?: number;
  /** Where sessions outlive a hub restart (`<dataDir>/sessions.json`); in memory only without it. */
  file?: DocumentAdapter<SessionDocument>;
  /** The user's current role and since when their sessions count, or undefined once the user is gone. */
  userOf: (user: string) => { role: Role; sessionsValidFrom: number } | undefined;
  now?: () => number;
}

/**
 * Login sessions: the cookie holds a random token, the hub only its SHA-256 (so a copied file logs nobody in), kept
 * on disk so restarts log nobody out. Logins and logouts are durable before they are answered.
 */
export class SessionStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly now: () => number;
  /** Expiry as last written, per token hash, to write sliding expiries only when they moved far enough. */
  private readonly written = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly writer: CoalescedWriter | undefined;

  private constructor(private readonly opts: SessionStoreOptions) {
    this.now = opts.now ?? Date.now;
    const file = opts.file;
    if (file) this.writer = new CoalescedWriter(() => this.write(file));
  }

  static async open(opts: SessionStoreOptions): Promise<SessionStore> {
    const store = new SessionStore(opts);
    const doc = await opts.file?.read();
    const now = store.now();
    for (const s of doc?.sessions ?? []) {
      if (s.expiresAt <= now) continue;
      store.sessions.set(s.tokenHash, { ...s });
      store.written.set(s.tokenHash, s.expiresAt);
    }
    return store;
  }

  get size(): number {
    return this.sessions.size;
  }

  async create(user: string): Promise<{ token: string; session: Session }> {
    const found = this.opts.userOf(user);
    if (!found) throw new PdmError('PDM_ERR_AUTH_FAILED', `no user ${user}`);
    const { role } = found;
    const token = randomBytes(32).toString('base64url');
    const stored = {
      tokenHash: hashToken(token),
      user,
      createdAt: this.now(),
      expiresAt: this.slidingExpiry(this.now()),
    };
    this.sessions.set(stored.tokenHash, stored);
    await this.persist();
    return { token, session: { user, role, csrf: csrfOf(token), expiresAt: stored.expiresAt } };
  }

  fromRequest(req: IncomingMessage): { token: string; session: Session } | undefined {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!token) return undefined;
    const key = hashToken(token);
    const stored = this.sessions.get(key);
    if (!stored) return undefined;
    const user = this.opts.userOf(stored.user);
    if (stored.expiresAt <= this.now() || !user || stored.createdAt < user.sessionsValidFrom) {
      this.sessions.delete(key);
      this.schedule();
      return undefined;
    }
    stored.expiresAt = this.slidingExpiry(stored.createdAt);
    if (stored.expiresAt - (this.written.get(key) ?? 0) > this.opts.ttlMs / 10) this.schedule();
    return { token, session: { user: stored.user, role: user.role, csrf: csrfOf(token), expiresAt: stored.expiresAt } };
  }

  /** The idle deadline from now, never past the session's absolute end. */
  private slidingExpiry(createdAt: number): number {
    const idle = this.now() + this.opts.ttlMs;
    return this.opts.maxAgeMs === undefined ? idle : Math.min(idle, createdAt + this.opts.maxAgeMs);
  }

  async destroy(token: string): Promise<void> {
    if (this.sessions.delete(hashToken(token))) await this.persist();
  }

  cookie(token: string, secure: boolean): string {
    return (
      `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; ` +
      `Max-Age=${Math.round(this.opts.ttlMs / 1000)}${secure ? '; Secure' : ''}`
    );
  }

  /** Writes what is pending (the hub calls this when it stops). */
  async close(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      await this.persist();
    }
    await this.writer?.idle();
  }

  private schedule(): void {
    if (!this.opts.file || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      // A failed lazy write only risks a session ending early after a crash; the next write retries it.
      this.persist().catch(() => undefined);
    }, 1000);
    this.flushTimer.unref();
  }

  /** Resolves once the live sessions as they are now are on disk (writes are coalesced, one at a time). */
  private persist(): Promise<void> {
    return this.writer?.request() ?? Promise.resolve();
  }

  private async write(file: DocumentAdapter<SessionDocument>): Promise<void> {
    const now = this.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
    const sessions = [...this.sessions.values()].map((s) => ({ ...s }));
    await file.write({ schema: 1, sessions });
    this.written.clear();
    for (const s of sessions) this.written.set(s.tokenHash, s.expiresAt);
  }
}
