import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { PgPool } from '../store/sql/pg-pool.js';
import type { ReadRange, ReadStats } from './reader.js';
import { Flusher } from './flusher.js';
import { bufferRow, type BufferedRow, type TelemetryRow } from './rows.js';
import {
  noStats,
  type BufferedLogOptions,
  type RetentionSummary,
  type TelemetryLogStats,
  type TelemetryStorage,
} from './storage.js';

export interface PgTelemetryLogOptions extends BufferedLogOptions {
  /** The store's connection string (schema made by `preparePostgres`, migration 005-shared-telemetry). */
  url: string;
  /** Rows per insert statement. */
  batchRows?: number;
  /** An insert or read the server does not answer within this long fails (its rows stay buffered). */
  queryTimeoutMs?: number;
}

interface Pending {
  site: string;
  device: string;
  row: BufferedRow;
}

/** Bytes a row takes besides its values (columns, tuple header, its index entries), for the byte bound's estimate. */
const ROW_OVERHEAD_BYTES = 120;
const PAGE_ROWS = 5000;
const MIN_T = Number.MIN_SAFE_INTEGER;
const MAX_T = Number.MAX_SAFE_INTEGER;

/**
 * The telemetry log in PostgreSQL (cluster.mode shared), so whichever hub process leads appends to one log and any
 * process trains from all of it. Appends are buffered like the file log's and written every `flushMs` as one
 * multi-row insert; a pool of its own (not the store's synchronous session) keeps a slow server off the event loop.
 */
export class PgTelemetryLog implements TelemetryStorage {
  readonly kind = 'postgres';
  readonly stats: TelemetryLogStats = noStats();
  private pending: Pending[] = [];
  /** Per device, the names of its last row: rows share one array while a device's features do not change. */
  private readonly lastNames = new Map<string, readonly string[]>();
  /** Series id by "site/device" + names (a device's feature names, stored once). */
  private readonly series = new Map<string, number>();
  /** The same by the names array a device's rows share (one array belongs to one device), found without a key. */
  private readonly seriesOf = new WeakMap<readonly string[], number>();
  private readonly maxPendingRows: number;
  private readonly batchRows: number;
  private readonly now: () => number;
  private readonly flusher = new Flusher(() => this.writeAll());
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failing = false;

  private constructor(
    private readonly opts: PgTelemetryLogOptions,
    private readonly db: PgPool,
  ) {
    this.now = opts.now ?? Date.now;
    this.maxPendingRows = opts.maxPendingRows ?? 50_000;
    this.batchRows = opts.batchRows ?? 5000;
  }

  static async open(opts: PgTelemetryLogOptions): Promise<PgTelemetryLog> {
    const db = new PgPool({
      url: opts.url,
      application: 'pdm-hub-telemetry',
      code: 'PDM_ERR_TELEMETRY_LOG',
      logger: opts.logger,
      ...(opts.queryTimeoutMs !== undefined ? { queryTimeoutMs: opts.queryTimeoutMs } : {}),
    });
    const log = new PgTelemetryLog(opts, db);
    await db.rows('select 1 from shared_telemetry limit 1');
    log.timer = setInterval(() => void log.flush(), opts.flushMs);
    log.timer.unref();
    return log;
  }

  append(msg: TelemetryMessage): void {
    if (this.closed) return;
    const key = deviceKey(msg);
    const row = bufferRow(msg, this.now(), this.lastNames.get(key));
    this.lastNames.set(key, row.names);
    this.pending.push({ site: msg.site, device: msg.device, row });
    this.stats.rowsAppended++;
    if (this.pending.length > this.maxPendingRows * 1.25) this.trim();
    this.flusher.grew(this.pending.length);
  }

  flush(): Promise<void> {
    return this.flusher.flush();
  }

  async *read(site: string, device: string, range: ReadRange = {}, stats?: ReadStats): AsyncGenerator<TelemetryRow> {
    const from = Math.max(MIN_T, range.from ?? MIN_T);
    const to = Math.min(MAX_T, range.to ?? MAX_T);
    const series = await this.db.rows<{ id: number; names: string }>(
      'select id, names from shared_telemetry_series where site = $1 and device = $2 order by id',
      [site, device],
    );
    for (const { id, names: text } of series) {
      const names = JSON.parse(text) as string[];
      let after = { t: MIN_T, id: 0 };
      for (;;) {
        // Keyset pages in (t, id) order: memory holds one page whatever the range.
        const rows = await this.db.rows<{
          id: string;
          t: string;
          ws: string;
          rx: string;
          score: number;
          thr: number;
          v: string;
        }>(
          `select id, t, ws, rx, score, thr, v from shared_telemetry
            where series = $1 and t >= $2 and t <= $3 and (t > $4 or (t = $4 and id > $5))
            order by t, id limit ${PAGE_ROWS}`,
          [id, from, to, after.t, after.id],
        );
        if (stats) stats.segments++;
        for (const r of rows) {
          const t = Number(r.t);
          yield {
            site,
            device,
            t,
            windowStart: Number(r.ws),
            receivedAt: Number(r.rx),
            score: r.score,
            threshold: r.thr,
            names,
            values: JSON.parse(r.v) as number[],
          };
        }
        if (rows.length < PAGE_ROWS) break;
        const last = rows.at(-1)!;
        after = { t: Number(last.t), id: Number(last.id) };
      }
    }
  }

  async devices(): Promise<DeviceRef[]> {
    return this.db.rows<DeviceRef>('select distinct site, device from shared_telemetry_series order by site, device');
  }

  /**
   * Deletes rows received longer ago than the retention age, then the oldest until the rest fit `maxBytes` by an
   * estimate of their size (PostgreSQL reuses the space of deleted rows; its files do not shrink).
   */
  async runRetention(): Promise<RetentionSummary> {
    await this.flush();
    const deletedRows = await this.db.count(
      `with newest as (
         select max(id) as top, avg(length(v)) + ${ROW_OVERHEAD_BYTES} as bytes
           from (select id, v from shared_telemetry order by id desc limit 1000) recent)
       delete from shared_telemetry
        where id < coalesce((select id from shared_telemetry where rx >= $1 order by id limit 1), (select top + 1 from newest))
           or id <= (select top - floor($2 / bytes) from newest)`,
      [this.now() - this.opts.retentionMs, this.opts.maxBytes],
    );
    if (deletedRows) this.opts.logger.info({ deletedRows }, 'telemetry retention');
    return { deletedRows };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    await this.flusher.settled();
    await this.db.end();
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batchRows);
      try {
        await this.insert(batch);
      } catch (error) {
        this.stats.writeFailures++;
        this.pending = batch.concat(this.pending);
        this.trim();
        if (!this.failing)
          this.opts.logger.error(
            { code: 'PDM_ERR_TELEMETRY_LOG', database: this.db.where, err: (error as Error).message },
            'telemetry insert failed; rows kept for the next flush',
          );
        this.failing = true;
        return;
      }
      if (this.failing) this.opts.logger.info('telemetry inserts work again');
      this.failing = false;
    }
  }

  /** One insert for the whole batch: its columns as arrays, unnested by the server. */
  private async insert(batch: Pending[]): Promise<void> {
    const cols = { series: [] as number[], t: [] as number[], ws: [] as number[], rx: [] as number[] };
    const score: number[] = [];
    const thr: number[] = [];
    const v: string[] = [];
    let bytes = 0;
    for (const { site, device, row } of batch)
      if (!this.seriesOf.has(row.names)) this.seriesOf.set(row.names, await this.seriesId(site, device, row.names));
    for (const { row } of batch) {
      cols.series.push(this.seriesOf.get(row.names)!);
      cols.t.push(row.t);
      cols.ws.push(row.ws);
      cols.rx.push(row.rx);
      score.push(row.score);
      thr.push(row.thr);
      const values = JSON.stringify(Array.from(row.values));
      bytes += values.length;
      v.push(values);
    }
    await this.db.rows(
      `insert into shared_telemetry (series, t, ws, rx, score, thr, v)
       select * from unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[], $7::text[])`,
      [cols.series, cols.t, cols.ws, cols.rx, score, thr, v],
    );
    this.stats.rowsWritten += batch.length;
    this.stats.bytesWritten += bytes;
  }

  /** The id of a device's feature names, made by whichever process needs it first (the unique key decides). */
  private async seriesId(site: string, device: string, names: readonly string[]): Promise<number> {
    const text = JSON.stringify(names);
    const key = `${site}/${device}\u0000${text}`;
    const known = this.series.get(key);
    if (known !== undefined) return known;
    // A row another process inserts at the same moment is not in this statement's snapshot: then ask again.
    for (let attempt = 0; ; attempt++) {
      const [row] = await this.db.rows<{ id: number }>(
        `with made as (
           insert into shared_telemetry_series (site, device, names) values ($1, $2, $3)
           on conflict (site, device, names) do nothing returning id)
         select id from made union all
         select id from shared_telemetry_series where site = $1 and device = $2 and names = $3`,
        [site, device, text],
      );
      if (row) {
        this.series.set(key, row.id);
        return row.id;
      }
      if (attempt >= 2) throw new Error(`no series row for ${site}/${device}`);
    }
  }

  /** Drops the oldest buffered rows beyond `maxPendingRows`, counted: the newest telemetry is the most useful. */
  private trim(): void {
    const excess = this.pending.length - this.maxPendingRows;
    if (excess <= 0) return;
    this.pending.splice(0, excess);
    this.stats.rowsDropped += excess;
    this.opts.logger.warn(
      { code: 'PDM_ERR_TELEMETRY_LOG', dropped: excess, droppedTotal: this.stats.rowsDropped },
      'telemetry buffer full while the database refuses writes: oldest rows dropped',
    );
  }
}
