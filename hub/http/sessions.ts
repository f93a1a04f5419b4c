import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from '../auth/identities.js';

export interface Session {
  user: string;
  role: Role;
  /** Echoed by the browser in `x-csrf-token` on every mutating request; a cross-site form cannot read it. */
  csrf: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'pdm_session';

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

export function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Login sessions, in memory: a hub restart logs everyone out, which is acceptable for a plant server and means no
 * session secret ever sits on disk. Sessions expire after `ttlMs` without use.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string, role: Role): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const session = { user, role, csrf: randomBytes(24).toString('base64url'), expiresAt: this.now() + this.ttlMs };
    this.sessions.set(token, session);
    return { token, session };
  }

  fromRequest(req: IncomingMessage): { token: string; session: Session } | undefined {
    const token = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!token) return undefined;
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    session.expiresAt = this.now() + this.ttlMs;
    return { token, session };
  }

  destroy(token: string): void {
    this.sessions.delete(token);
  }

  /** Ends every session of a user (e.g. after their role changed). */
  destroyUser(user: string): void {
    for (const [token, s] of this.sessions) if (s.user === user) this.sessions.delete(token);
  }

  cookie(token: string, secure: boolean): string {
    return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.round(this.ttlMs / 1000)}${secure ? '; Secure' : ''}`;
  }
}
