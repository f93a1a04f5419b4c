import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PdmError } from '../../protocol/errors.js';
import type { Role } from '../inspections/roles.js';
import { SessionDocuments, type SessionKeeper } from './session-keepers.js';

export interface Session {
  user: string;
  /** The user's role now (read from the identities on every request, so a changed role applies at once). */
  role: Role;
  /** Echoed by the browser in `x-csrf-token` on every mutating request; a cross-site form cannot read it. */
  csrf: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'pdm_session';
export const SESSION_FILE = 'sessions.json';
export type { SessionDocument, StoredSession } from './session-keepers.js';

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
  /** Where sessions are kept (this process's document, or rows all hub processes share); in memory without it. */
  keeper?: SessionKeeper;
  /** The user's current role and since when their sessions count, or undefined once the user is gone. */
  userOf: (user: string) => { role: Role; sessionsValidFrom: number } | undefined;
  now?: () => number;
}

/**
 * Login sessions: the cookie holds a random token, the keeper only its SHA-256 (so a copied file or row logs nobody
 * in). Logins and logouts are kept before they are answered, so restarts log nobody out and nobody back in.
 */
export class SessionStore {
  private readonly now: () => number;

  private constructor(
    private readonly opts: SessionStoreOptions,
    private readonly keeper: SessionKeeper,
  ) {
    this.now = opts.now ?? Date.now;
  }

  static async open(opts: SessionStoreOptions): Promise<SessionStore> {
    const now = opts.now ?? Date.now;
    return new SessionStore(opts, opts.keeper ?? (await SessionDocuments.open(undefined, { now, lazyMs: 0 })));
  }

  get size(): number {
    return this.keeper.count();
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
    await this.keeper.add(stored);
    return { token, session: { user, role, csrf: csrfOf(token), expiresAt: stored.expiresAt } };
  }

  fromRequest(req: IncomingMessage): { token: string; session: Session } | undefined {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!token) return undefined;
    const key = hashToken(token);
    const stored = this.keeper.find(key);
    if (!stored) return undefined;
    const user = this.opts.userOf(stored.user);
    if (stored.expiresAt <= this.now() || !user || stored.createdAt < user.sessionsValidFrom) {
      // Lazily: the session is refused now whether or not its removal is kept.
      this.keeper.remove(key).catch(() => undefined);
      return undefined;
    }
    const expiresAt = this.slidingExpiry(stored.createdAt);
    this.keeper.slide(stored, expiresAt);
    return { token, session: { user: stored.user, role: user.role, csrf: csrfOf(token), expiresAt } };
  }

  /** The idle deadline from now, never past the session's absolute end. */
  private slidingExpiry(createdAt: number): number {
    const idle = this.now() + this.opts.ttlMs;
    return this.opts.maxAgeMs === undefined ? idle : Math.min(idle, createdAt + this.opts.maxAgeMs);
  }

  destroy(token: string): Promise<void> {
    return this.keeper.remove(hashToken(token));
  }

  cookie(token: string, secure: boolean): string {
    return (
      `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; ` +
      `Max-Age=${Math.round(this.opts.ttlMs / 1000)}${secure ? '; Secure' : ''}`
    );
  }

  /** Writes what is pending (the hub calls this when it stops). */
  close(): Promise<void> {
    return this.keeper.close();
  }
}
