import pg from 'pg';
import type { Logger } from '../../../config/logger.js';
import { PdmError, type ErrorCode } from '../../../protocol/errors.js';
import { redact } from './pg.js';

export interface PgPoolOptions {
  url: string;
  /** Names the connections in pg_stat_activity. */
  application: string;
  /** The code a failed query throws, naming the server (without its password) and PostgreSQL's reason. */
  code: ErrorCode;
  logger: Logger;
  /** A query the server does not answer within this long fails (and its connection is dropped). */
  queryTimeoutMs?: number;
}

/**
 * A small pool of asynchronous connections, for a part that must not wait on the store's synchronous session (which
 * holds the event loop for each round trip): the telemetry log's inserts and reads, the training jobs' claims.
 */
export class PgPool {
  private readonly pool: pg.Pool;

  constructor(private readonly opts: PgPoolOptions) {
    const timeout = opts.queryTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: 2,
      application_name: opts.application,
      query_timeout: timeout,
      connectionTimeoutMillis: timeout,
    });
    // An idle connection's error comes as an event (unhandled, it would end the process); the next query reconnects.
    this.pool.on('error', (error) => opts.logger.warn({ err: error.message }, `${opts.application}: connection lost`));
  }

  get where(): string {
    return redact(this.opts.url);
  }

  async rows<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.query(sql, params)).rows as R[];
  }

  /** Rows changed (update, delete). */
  async count(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  end(): Promise<void> {
    return this.pool.end();
  }

  private async query(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (error) {
      throw new PdmError(this.opts.code, `${this.where}: ${(error as Error).message}`, { cause: error });
    }
  }
}
