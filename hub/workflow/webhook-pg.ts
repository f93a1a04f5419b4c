import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { Inspection } from '../inspections/records.js';
import { redact } from '../store/sql/pg.js';
import { databaseError } from '../store/sql/session.js';
import type { WebhookRecord } from './webhook-file.js';
import { WebhookOutbox, type OpenOptions, type WebhookOutboxOptions } from './webhook-outbox.js';
import {
  view,
  type ArchivedAudits,
  type BuildNotification,
  type Claimed,
  type Settlement,
  type WebhookCounts,
  type WebhookStore,
  type WebhookView,
} from './webhook-store.js';

interface Row {
  seq: string;
  key: string;
  inspection_id: string;
  sequence: number;
  type: string;
  body: string;
  recorded_at: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  dead_at: string | null;
}

const COLUMNS =
  'seq, key, inspection_id, sequence, type, body, recorded_at, attempts, next_attempt_at, last_error, dead_at';
/** The database's clock in ms: claims are timed by it, so the processes' own clocks need not agree. */
const DB_NOW = '(extract(epoch from statement_timestamp()) * 1000)::bigint';

const record = (r: Row): WebhookRecord => ({
  seq: Number(r.seq),
  key: r.key,
  inspectionId: r.inspection_id,
  sequence: r.sequence,
  type: r.type,
  body: r.body,
  recordedAt: Number(r.recorded_at),
  attempts: r.attempts,
  nextAttemptAt: Number(r.next_attempt_at),
  ...(r.last_error === null ? {} : { lastError: r.last_error }),
  ...(r.dead_at === null ? {} : { deadAt: Number(r.dead_at) }),
});

export interface PgWebhookStoreOptions {
  url: string;
  /** This process (cluster.instance): claims carry it and a per-start suffix. */
  instance: string;
  /** How long a claim holds: longer than one attempt (the CMMS timeout), after which another process may take it. */
  claimMs: number;
  logger: Logger;
}

/**
 * The outbox as rows several hub processes share (migration 003-shared-outbox). Any process may deliver any row: a
 * claim (who, until when) lets one at a time send it, and a claim whose holder died expires after `claimMs`.
 */
export class PgWebhookStore implements WebhookStore {
  readonly where: string;
  /** Who claims: the instance and this start of it, so a restarted process does not take its old claims for live. */
  readonly claimer: string;
  private readonly pool: pg.Pool;

  constructor(private readonly opts: PgWebhookStoreOptions) {
    this.where = redact(opts.url);
    this.claimer = `${opts.instance}/${randomUUID().slice(0, 8)}`;
    this.pool = new pg.Pool({ connectionString: opts.url, max: 4, application_name: 'pdm-hub-webhooks' });
    // An idle client the server dropped: the next query opens another.
    this.pool.on('error', (error) =>
      opts.logger.warn({ err: error.message, store: this.where }, 'webhook outbox: idle connection lost'),
    );
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw databaseError(this.where, error);
    }
  }

  /** Runs `fn` in one transaction on one connection; a throw rolls it back. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw databaseError(this.where, error);
    }
    try {
      await client.query('begin');
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw databaseError(this.where, error);
    } finally {
      client.release();
    }
  }

  async reconcile(
    inspections: ReadonlyArray<Inspection>,
    archived: ArchivedAudits | undefined,
    build: BuildNotification,
    now: number,
  ): Promise<{ recovered: number; created: boolean }> {
    const summaries = archived ? [...archived.archivedSummaries()] : [];
    // The first opener marks the history as told, in the transaction that makes the origin row: another process
    // opening meanwhile waits on that row's key, then sees the marks.
    const created = await this.transaction(async (client) => {
      const made = await client.query(
        'insert into shared_webhook_origin (id, created_at) values (1, $1) on conflict do nothing returning id',
        [now],
      );
      if (made.rowCount !== 1) return false;
      const ids = [...inspections.map((i) => i.id), ...summaries.map((a) => a.id)];
      const lengths = [...inspections.map((i) => i.audit.length), ...summaries.map((a) => a.auditLength)];
      await client.query(
        `insert into shared_webhook_notified (inspection_id, recorded) select * from unnest($1::text[], $2::int[])
         on conflict (inspection_id) do update set recorded = greatest(shared_webhook_notified.recorded, excluded.recorded)`,
        [ids, lengths],
      );
      return true;
    });
    if (created) return { recovered: 0, created };
    const recorded = new Map(
      (
        await this.query<{ inspection_id: string; recorded: number }>(
          'select inspection_id, recorded from shared_webhook_notified',
        )
      ).map((r) => [r.inspection_id, r.recorded]),
    );
    let recovered = 0;
    for (const i of inspections)
      if (i.audit.length > (recorded.get(i.id) ?? 0)) recovered += await this.record(i, build, now);
    for (const a of summaries) {
      if ((recorded.get(a.id) ?? 0) >= a.auditLength) continue;
      const whole = archived!.inspection(a.id);
      if (whole) recovered += await this.record(whole, build, now);
    }
    return { recovered, created };
  }

  /**
   * Under the inspection's row lock: the entries beyond what any process recorded. Never goes back, since this
   * process's copy of the inspection may lag the database (another process changed it since).
   */
  record(inspection: Inspection, build: BuildNotification, now: number): Promise<number> {
    return this.transaction(async (client) => {
      await client.query(
        'insert into shared_webhook_notified (inspection_id, recorded) values ($1, 0) on conflict do nothing',
        [inspection.id],
      );
      const { rows } = await client.query<{ recorded: number }>(
        'select recorded from shared_webhook_notified where inspection_id = $1 for update',
        [inspection.id],
      );
      const from = rows[0]!.recorded;
      if (from >= inspection.audit.length) return 0;
      const made = Array.from({ length: inspection.audit.length - from }, (_, n) => build(inspection, from + n));
      await client.query(
        `insert into shared_webhook (key, inspection_id, sequence, type, body, recorded_at, attempts, next_attempt_at)
         select k, i, s, t, b, $6, 0, $6 from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[])
           as n(k, i, s, t, b)
         order by s
         on conflict (key) do nothing`,
        [
          made.map((m) => m.key),
          made.map((m) => m.inspectionId),
          made.map((m) => m.sequence),
          made.map((m) => m.type),
          made.map((m) => m.body),
          now,
        ],
      );
      await client.query('update shared_webhook_notified set recorded = $2 where inspection_id = $1', [
        inspection.id,
        inspection.audit.length,
      ]);
      return made.length;
    });
  }

  /**
   * One statement: each inspection's oldest pending row, due, with no live claim on any row of that inspection, is
   * claimed. Two processes racing for one row: the second re-checks the claim after the first commits, and skips it.
   */
  async claim(now: number, limit: number, busy: ReadonlySet<string>): Promise<Claimed> {
    const rows =
      limit <= 0
        ? []
        : await this.query<Row>(
            `update shared_webhook w set claimed_by = $1, claimed_until = ${DB_NOW} + $2
               from (select h.key from (select distinct on (inspection_id) key, inspection_id, seq, next_attempt_at
                                          from shared_webhook where dead_at is null order by inspection_id, seq) h
                      where h.next_attempt_at <= $3 and h.inspection_id <> all($4::text[])
                        and not exists (select 1 from shared_webhook o
                                         where o.inspection_id = h.inspection_id and o.claimed_until > ${DB_NOW})
                      order by h.seq limit $5) c
              where w.key = c.key and (w.claimed_until is null or w.claimed_until <= ${DB_NOW})
              returning ${COLUMNS.split(', ')
                .map((c) => `w.${c}`)
                .join(', ')}`,
            [this.claimer, this.opts.claimMs, now, [...busy], limit],
          );
    const [next] = await this.query<{ at: string | null }>(
      `select min(next_attempt_at) as at from (select distinct on (inspection_id) next_attempt_at from shared_webhook
        where dead_at is null order by inspection_id, seq) h where next_attempt_at > $1`,
      [now],
    );
    return {
      records: rows.map(record).sort((a, b) => a.seq - b.seq),
      wakeAt: next?.at == null ? Infinity : Number(next.at),
    };
  }

  async settle(claimed: WebhookRecord, settlement: Settlement): Promise<void> {
    const mine = 'key = $1 and claimed_by = $2';
    const unclaim = 'claimed_by = null, claimed_until = null';
    const params = [claimed.key, this.claimer];
    switch (settlement.outcome) {
      case 'delivered':
        // Gone whoever holds it now: the CMMS has it.
        await this.query('delete from shared_webhook where key = $1', [claimed.key]);
        return;
      case 'retry':
        await this.query(
          `update shared_webhook set attempts = $3, last_error = $4, next_attempt_at = $5, ${unclaim} where ${mine}`,
          [...params, settlement.attempts, settlement.lastError, settlement.nextAttemptAt],
        );
        return;
      case 'dead':
        await this.query(
          `update shared_webhook set attempts = $3, last_error = $4, dead_at = $5, ${unclaim} where ${mine}`,
          [...params, settlement.attempts, settlement.lastError, settlement.deadAt],
        );
        return;
      case 'released':
        await this.query(`update shared_webhook set ${unclaim} where ${mine}`, params);
    }
  }

  pending(): Promise<WebhookView[]> {
    return this.views('dead_at is null order by seq');
  }

  dead(): Promise<WebhookView[]> {
    return this.views('dead_at is not null order by dead_at, seq');
  }

  async counts(): Promise<WebhookCounts> {
    const [row] = await this.query<{ pending: string; dead: string; retrying: string }>(
      `select count(*) filter (where dead_at is null) as pending, count(*) filter (where dead_at is not null) as dead,
              count(*) filter (where dead_at is null and attempts > 0) as retrying
         from shared_webhook`,
    );
    return { pending: Number(row!.pending), dead: Number(row!.dead), retrying: Number(row!.retrying) };
  }

  /** The API's view of rows: their bodies stay in the database. */
  private async views(where: string): Promise<WebhookView[]> {
    const rows = await this.query<Row>(
      `select ${COLUMNS.replace('body, ', "'' as body, ")} from shared_webhook where ${where}`,
    );
    return rows.map((r) => view(record(r)));
  }

  retryDead(keys: string[] | undefined, now: number): Promise<string[]> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ key: string }>(
        `select key from shared_webhook where dead_at is not null and ($1::text[] is null or key = any($1::text[]))
          order by seq for update`,
        [keys ?? null],
      );
      const moving = rows.map((r) => r.key);
      const missing = (keys ?? []).filter((k) => !moving.includes(k));
      if (missing.length > 0)
        throw new PdmError('PDM_ERR_NOT_FOUND', `no dead-letter webhook with key ${[...new Set(missing)].join(', ')}`);
      await client.query(
        'update shared_webhook set dead_at = null, attempts = 0, next_attempt_at = $2 where key = any($1::text[])',
        [moving, now],
      );
      return moving;
    });
  }

  async idle(): Promise<void> {}

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** What a claim adds to the CMMS timeout: the write of the outcome, and a loaded event loop. */
const CLAIM_MARGIN_MS = 5000;
/** How often a process looks for rows others recorded, or claims that expired, with nothing due of its own. */
const POLL_MS = 1000;

/** The outbox of one hub process among several on one database (cluster.mode shared; its store migrated it). */
export async function openSharedWebhooks(
  url: string,
  instance: string,
  opts: WebhookOutboxOptions & OpenOptions,
): Promise<WebhookOutbox> {
  const store = new PgWebhookStore({
    url,
    instance,
    claimMs: opts.cmms.timeoutMs + CLAIM_MARGIN_MS,
    logger: opts.logger,
  });
  try {
    return await WebhookOutbox.over(store, { pollMs: POLL_MS, ...opts });
  } catch (error) {
    await store.close();
    throw error;
  }
}
