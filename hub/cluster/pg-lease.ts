import pg from 'pg';
import type { Logger } from '../../config/logger.js';
import { redact } from '../store/sql/pg.js';
import type { Lease, LeaseHooks } from './lease.js';

/**
 * The advisory lock every hub process of one database contends for ('pdmlead1' as a signed 64-bit key). Advisory
 * locks are scoped to their database, so fleets on other databases of the same server do not meet.
 */
export const LEADER_LOCK_KEY = '8099566640186778673';

/** Rounds without a query after which the server ends a lease's session (its idle_session_timeout). */
export const IDLE_ROUNDS = 5;

export interface PgLeaseOptions {
  hooks: LeaseHooks;
  /** The store's connection string; this lease opens its own connection on it. */
  url: string;
  logger: Logger;
  /** How often a follower tries the lock, and a leader checks its connection. */
  renewMs?: number;
}

/**
 * `cluster.mode: shared`: leadership is a session-level advisory lock on a connection of its own. PostgreSQL drops the
 * lock with the session, so a holder that dies (SIGKILL closes its socket) is replaced within about `renewMs`, one that
 * goes silent within about `IDLE_ROUNDS` rounds; a holder whose connection fails gives up leadership at once and
 * contends again once it reconnects.
 */
export class PgLease implements Lease {
  private readonly renewMs: number;
  private readonly where: string;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private leading = false;
  private closed = false;
  private failing = false;

  constructor(private readonly opts: PgLeaseOptions) {
    this.renewMs = opts.renewMs ?? 2000;
    this.where = redact(opts.url);
  }

  get held(): boolean {
    return this.leading;
  }

  async start(): Promise<void> {
    this.round = this.step();
    await this.round;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.round;
    const client = this.client;
    this.client = undefined;
    if (client && this.leading)
      await client.query('select pg_advisory_unlock($1::bigint)', [LEADER_LOCK_KEY]).catch(() => undefined);
    this.leading = false;
    await client?.end().catch(() => undefined);
  }

  /** One round: connect if needed, then try the lock (follower) or check the connection (leader). */
  private async step(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.leading) await client.query('select 1');
      else {
        const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [
          LEADER_LOCK_KEY,
        ]);
        if (rows[0]?.locked && client === this.client) {
          this.leading = true;
          this.opts.logger.info(
            { database: this.where },
            'leader lease acquired: this process runs the once-only duties',
          );
          if (!this.closed) this.opts.hooks.onAcquired();
        }
      }
      if (this.failing) this.opts.logger.info({ database: this.where }, 'leader lease: database reachable again');
      this.failing = false;
    } catch (error) {
      this.drop(this.client, error as Error);
    } finally {
      if (!this.closed) {
        this.timer = setTimeout(() => (this.round = this.step()), this.renewMs);
        this.timer.unref();
      }
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: 'pdm-hub-lease',
      keepAlive: true,
      connectionTimeoutMillis: Math.max(1000, this.renewMs),
      // A server that stops answering counts as lost, not as a check that never ends.
      query_timeout: Math.max(1000, this.renewMs),
    });
    // An error on an idle connection comes as an event; unhandled, it would end the process.
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('connection closed')));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    // A holder that stops asking (host powered off, network cut, process frozen) keeps its socket open for the server's
    // TCP keepalive (hours by default); this ends its session, and so the lock, after 5 silent rounds. PostgreSQL 14+.
    await client
      .query("select set_config('idle_session_timeout', $1, false)", [String(this.renewMs * IDLE_ROUNDS)])
      .catch(() => undefined);
    this.client = client;
    return client;
  }

  /** The connection `client` failed: leadership (if held) ends now, and the next round reconnects. */
  private drop(client: pg.Client | undefined, error: Error): void {
    if (client !== this.client && client !== undefined) return;
    this.client = undefined;
    client?.end().catch(() => undefined);
    const err = this.scrub(error.message);
    if (this.leading) {
      this.leading = false;
      this.opts.logger.error({ database: this.where, err }, 'leader lease lost: its connection failed; trying again');
      if (!this.closed) this.opts.hooks.onLost();
    } else if (!this.failing && !this.closed)
      this.opts.logger.warn({ database: this.where, err }, 'leader lease: database unreachable; trying again');
    this.failing = true;
  }

  /** A driver message may quote the connection string; the password never reaches a log. */
  private scrub(message: string): string {
    let password = '';
    try {
      password = decodeURIComponent(new URL(this.opts.url).password);
    } catch {
      // an unparsable URL has no password to hide
    }
    return password ? message.split(password).join('***') : message;
  }
}
