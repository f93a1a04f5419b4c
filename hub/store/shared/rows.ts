import { PdmError } from '../../../protocol/errors.js';
import { forgetCorrelationIndex } from '../../inspections/incidents.js';
import type { DeviceRecord, Inspection, RoutingCounters, WatchItem } from '../../inspections/records.js';
import { SeenEvents } from '../../inspections/seen-events.js';
import type { ChangeKind, ListIndex } from '../changes.js';
import type { SqlSession } from '../sql/session.js';
import { emptyState, type HubState } from '../state.js';
import { inspectionDue, watchDue } from '../archiving.js';
import { SharedArchive } from './archive.js';
import { spillInto } from './spill.js';

/** The channel every process of a cluster listens on: which records one of them just committed. */
export const CHANGES_CHANNEL = 'pdm_changes';

/** What a commit tells the other processes: who made it, and the keys it wrote ('i/<id>', 'w/<id>', 'd/<key>', 'c'). */
export interface ChangeNotice {
  origin: string;
  keys: string[];
}

/** The store's side of the cache: its state, the indexes that find records in it, and what it marked as changed. */
export interface SharedCache {
  readonly state: HubState;
  readonly index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> };
  takeTouched(): Map<ChangeKind, Set<string>>;
}

type RecordKind = 'i' | 'w';
interface RecordRow {
  kind: RecordKind;
  id: string;
  version: number;
  doc: string | null;
  /** Set once the record is archived (its doc is then not read). */
  summary?: string | null;
}

const ROUTING: Array<keyof RoutingCounters> = ['incidents', 'toPeople', 'watchesCleared'];
/** The smallest UUIDv7 made at `ms`: ids made before it sort below it. */
export const uuidFloor = (ms: number): string => {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-0000-000000000000`;
};
const assetKey = (site: string, asset: string) => `${site}\u0000${asset}`;

/**
 * The hub's incident records shared by several processes through PostgreSQL: rows are the truth, each process's state
 * a cache. An event is decided under its asset's row lock, over the asset's records as the database holds them, and
 * written (with its event id, whose primary key refuses a second taker) before the lock goes.
 */
export class SharedRows {
  /** The version of each record this cache holds ('i/<id>', 'w/<id>'). */
  private readonly versions = new Map<string, number>();
  /** The record keys this cache holds per asset, to ask the database for only what changed. */
  private readonly byAsset = new Map<string, Set<string>>();
  /** The summaries of the archived rows: records no process holds in memory. */
  readonly archive: SharedArchive;

  constructor(
    private readonly db: SqlSession,
    /** Names this process in its notices, so it skips its own. */
    readonly origin: string,
    private readonly cache: () => SharedCache,
    /** An inspection taking more events spills all but its first and latest ones (shared/spill.ts). */
    private readonly eventsInMemory = 64,
  ) {
    this.archive = new SharedArchive(db);
  }

  /** Every shared row as a state, for a store that opens (the dedup ids made since `dedupSince`). */
  load(dedupSince: number): HubState {
    const state = emptyState();
    const rows = this.db.all<RecordRow>(
      `select kind, id, version, summary, case when summary is null then doc end as doc
         from shared_record order by kind, id`,
    );
    for (const row of rows) {
      if (row.summary) {
        this.archive.hold(row.kind, row.summary);
        this.versions.set(`${row.kind}/${row.id}`, row.version);
        continue;
      }
      const record = JSON.parse(row.doc!) as Inspection | WatchItem;
      if (row.kind === 'i') state.inspections.push(record as Inspection);
      else state.watches.push(record as WatchItem);
      this.held(row.kind, record, row.version);
    }
    // Lists are in opening order (UUIDv7 ids), as a single process appends them.
    state.inspections.sort((a, b) => (a.id < b.id ? -1 : 1));
    state.watches.sort((a, b) => (a.id < b.id ? -1 : 1));
    const seen = this.db.all<{ event_id: string; holder: string }>(
      "select event_id, holder from shared_seen where event_id >= ? or event_id not like '________-____-7%'",
      [uuidFloor(dedupSince)],
    );
    state.seenEvents = new SeenEvents();
    for (const { event_id, holder } of seen) state.seenEvents.set(event_id, holder);
    for (const { key, doc } of this.db.all<{ key: string; doc: string }>('select key, doc from shared_device'))
      state.devices[key] = JSON.parse(doc) as DeviceRecord;
    this.readCounters(state);
    return state;
  }

  private readCounters(state: HubState): void {
    for (const { name, n } of this.db.all<{ name: string; n: number }>('select name, n from shared_counter')) {
      if (name.startsWith('rr/')) state.roundRobin[name.slice(3)] = Number(n);
      else if ((ROUTING as string[]).includes(name)) state.routing[name as keyof RoutingCounters] = Number(n);
    }
  }

  private held(kind: RecordKind, record: { id: string; site: string; asset: string }, version: number): void {
    const key = `${kind}/${record.id}`;
    this.versions.set(key, version);
    const at = assetKey(record.site, record.asset);
    let keys = this.byAsset.get(at);
    if (!keys) this.byAsset.set(at, (keys = new Set()));
    keys.add(key);
  }

  /**
   * Runs `decide` under the asset's row lock, over the asset's records as committed by any process, then writes what it
   * touched and commits (a workflow step, a promotion). On any failure the asset's records are read back, so the
   * cache never keeps what was not committed.
   */
  underAsset<T>(site: string, asset: string, decide: () => T): T {
    return this.underAssets([[site, asset]], [], decide, () => []);
  }

  /**
   * The same for several assets at once (a batch of events): their rows locked in one order (site, then asset), so
   * two processes locking overlapping sets wait for each other instead of deadlocking. `decide` gets the holders the
   * database has for `eventIds`; `took` says which of them the decision recorded.
   */
  underAssets<T>(
    assets: Array<[site: string, asset: string]>,
    eventIds: string[],
    decide: (seen: Map<string, string>) => T,
    took: (result: T) => string[],
  ): T {
    const cache = this.cache();
    const routing = { ...cache.state.routing };
    const sites = assets.map(([site]) => site);
    const names = assets.map(([, asset]) => asset);
    const local: Record<string, number> = {};
    for (const [site, asset] of assets)
      for (const key of this.byAsset.get(assetKey(site, asset)) ?? []) local[key] = this.versions.get(key) ?? -1;
    let result: T;
    try {
      const pairs = 'select * from unnest(?::text[], ?::text[]) as p(site, asset)';
      const [, , , rows, seen] = this.db.batch([
        ['begin'],
        [`insert into shared_asset (site, asset) ${pairs} on conflict do nothing`, [sites, names]],
        [
          `select 1 from shared_asset where (site, asset) in (${pairs}) order by site, asset for update`,
          [sites, names],
        ],
        [
          `select r.kind, r.id, r.site, r.asset, r.version,
                  case when r.version > coalesce(l.value::bigint, -1) then r.doc end as doc
             from shared_record r left join json_each_text(?::json) l on l.key = r.kind || '/' || r.id
            where (r.site, r.asset) in (${pairs}) and r.summary is null`,
          [JSON.stringify(local), sites, names],
        ],
        ['select event_id, holder from shared_seen where event_id = any(?::text[])', [eventIds]],
      ]) as [
        unknown,
        unknown,
        unknown,
        Array<RecordRow & { site: string; asset: string }>,
        Array<{ event_id: string; holder: string }>,
      ];
      for (const [site, asset] of assets)
        this.refresh(
          site,
          asset,
          rows.filter((r) => r.site === site && r.asset === asset),
        );
      result = decide(new Map(seen.map((r) => [r.event_id, r.holder])));
      this.commit(cache, routing, took(result));
    } catch (error) {
      this.failed(cache, assets, eventIds, routing);
      throw error;
    }
    return result;
  }

  /** Writes what was touched outside an asset's lock (devices, counters) and commits it. */
  writeLoose(): void {
    const cache = this.cache();
    const routing = { ...cache.state.routing };
    try {
      this.db.run('begin');
      this.commit(cache, routing, []);
    } catch (error) {
      this.rollback();
      throw error;
    }
  }

  /** The asset's rows as the database holds them replace the cache's; what the database does not hold leaves it. */
  private refresh(site: string, asset: string, rows: RecordRow[]): void {
    const { state } = this.cache();
    const stale = new Set(this.byAsset.get(assetKey(site, asset)) ?? []);
    let reindex = false;
    for (const row of rows) {
      const key = `${row.kind}/${row.id}`;
      stale.delete(key);
      if (row.doc !== null && this.put(row)) reindex = true;
    }
    if (stale.size > 0) {
      this.forget(stale);
      reindex = true;
    }
    if (reindex) forgetCorrelationIndex(state);
  }

  /** A row's record into the cache; true when it took episodes the cache's copy did not have (the index must follow). */
  private put(row: RecordRow): boolean {
    const { index } = this.cache();
    this.archive.drop(row.kind, row.id);
    let grew: boolean;
    if (row.kind === 'i') {
      const record = JSON.parse(row.doc!) as Inspection;
      grew = (index.inspections.find(row.id)?.episodeIds.length ?? 0) !== record.episodeIds.length;
      index.inspections.upsert(record);
      this.held('i', record, row.version);
    } else {
      const record = JSON.parse(row.doc!) as WatchItem;
      grew = (index.watches.find(row.id)?.episodeIds.length ?? 0) !== record.episodeIds.length;
      index.watches.upsert(record);
      this.held('w', record, row.version);
    }
    return grew;
  }

  private forget(keys: Set<string>): void {
    const { index } = this.cache();
    const ids = (kind: RecordKind) => new Set([...keys].filter((k) => k[0] === kind).map((k) => k.slice(2)));
    index.inspections.remove(ids('i'));
    index.watches.remove(ids('w'));
    for (const key of keys) this.versions.delete(key);
    for (const set of this.byAsset.values()) for (const key of keys) set.delete(key);
  }

  /**
   * Upserts every touched record whole, the event's dedup id, devices and counter increments, tells the other
   * processes what it wrote, and commits: one wait for the server.
   */
  private commit(cache: SharedCache, routingBefore: RoutingCounters, eventIds: string[]): void {
    const { state, index } = cache;
    const touched = cache.takeTouched();
    const keys: string[] = [];
    const statements: Array<[string, unknown[]]> = [];
    const records: Array<{ kind: RecordKind; record: Inspection | WatchItem }> = [];
    const ids = (kind: ChangeKind) => touched.get(kind) ?? new Set<string>();
    for (const id of new Set([...ids('inspection'), ...ids('joined'), ...ids('spilled')])) {
      const record = index.inspections.find(id);
      if (record) records.push({ kind: 'i', record });
    }
    for (const id of ids('watch')) {
      const record = index.watches.find(id);
      if (record) records.push({ kind: 'w', record });
    }
    const spills: Array<[string, unknown[]]> = [];
    for (const { kind, record } of records) {
      const spill = kind === 'i' ? spillInto(record as Inspection, this.eventsInMemory) : undefined;
      if (spill) spills.push(spill);
    }
    // One statement per table, whatever the batch's size: the arrays are its rows.
    if (records.length > 0) {
      const column = (f: (r: (typeof records)[number]) => string) => records.map(f);
      statements.push([
        `insert into shared_record (kind, id, site, asset, version, doc)
         select k, i, s, a, 1, d from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) as t(k, i, s, a, d)
         on conflict (kind, id) do update set version = shared_record.version + 1, doc = excluded.doc, summary = null
         returning kind, id, version`,
        [
          column((r) => r.kind),
          column((r) => r.record.id),
          column((r) => r.record.site),
          column((r) => r.record.asset),
          column((r) => JSON.stringify(r.record)),
        ],
      ]);
      for (const { kind, record } of records) keys.push(`${kind}/${record.id}`);
    }
    statements.push(...spills);
    const seen = [...new Set([...ids('seen'), ...eventIds.filter((id) => state.seenEvents.has(id))])];
    // No "on conflict": a second taker of one event id fails here and rolls back whatever it decided.
    if (seen.length > 0)
      statements.push([
        'insert into shared_seen (event_id, holder) select * from unnest(?::text[], ?::text[])',
        [seen, seen.map((id) => state.seenEvents.get(id) ?? '')],
      ]);
    const devices = [...ids('device')].filter((key) => state.devices[key]);
    if (devices.length > 0) {
      statements.push([
        `insert into shared_device (key, doc) select * from unnest(?::text[], ?::text[])
         on conflict (key) do update set doc = excluded.doc`,
        [devices, devices.map((key) => JSON.stringify(state.devices[key]))],
      ]);
      for (const key of devices) keys.push(`d/${key}`);
    }
    const counters: Array<[string, number]> = ROUTING.map((name) => [name, state.routing[name] - routingBefore[name]]);
    for (const site of ids('roundRobin')) counters.push([`rr/${site}`, 1]);
    const bumped = counters.filter(([, delta]) => delta !== 0);
    if (bumped.length > 0) {
      statements.push([
        `insert into shared_counter (name, n) select * from unnest(?::text[], ?::bigint[])
         on conflict (name) do update set n = shared_counter.n + excluded.n returning name, n`,
        [bumped.map(([name]) => name), bumped.map(([, delta]) => delta)],
      ]);
      keys.push('c');
    }
    if (keys.length > 0)
      statements.push([
        'select pg_notify(?, ?)',
        [CHANGES_CHANNEL, JSON.stringify({ origin: this.origin, keys } satisfies ChangeNotice)],
      ]);
    statements.push(['commit', []]);
    const results = this.db.batch(statements);
    if (records.length > 0) {
      for (const row of results[0] as Array<{ kind: RecordKind; id: string; version: number }>) {
        const record = row.kind === 'i' ? index.inspections.find(row.id) : index.watches.find(row.id);
        if (record) this.held(row.kind, record, Number(row.version));
        this.archive.drop(row.kind, row.id); // a revived record is in the state again
      }
    }
    // Counters as the database now holds them: other processes' increments included.
    if (bumped.length > 0) {
      const at = statements.findIndex(([sql]) => sql.includes('shared_counter'));
      for (const { name, n } of results[at] as Array<{ name: string; n: number }>) {
        if (name.startsWith('rr/')) state.roundRobin[name.slice(3)] = Number(n);
        else state.routing[name as keyof RoutingCounters] = Number(n);
      }
    }
  }

  private rollback(): void {
    try {
      this.db.run('rollback');
    } catch {
      // the connection is gone: its transaction went with it
    }
  }

  /** Nothing of the failed decision stays in the cache: the asset's rows are read again, counters put back. */
  private failed(
    cache: SharedCache,
    assets: Array<[site: string, asset: string]>,
    eventIds: string[],
    routing: RoutingCounters,
  ): void {
    this.rollback();
    cache.takeTouched();
    Object.assign(cache.state.routing, routing);
    for (const id of eventIds) cache.state.seenEvents.delete(id);
    for (const [site, asset] of assets) {
      for (const key of this.byAsset.get(assetKey(site, asset)) ?? []) this.versions.set(key, -1);
      try {
        this.refresh(
          site,
          asset,
          this.db.all<RecordRow>(
            'select kind, id, version, doc from shared_record where site = ? and asset = ? and summary is null',
            [site, asset],
          ),
        );
      } catch {
        // still unreachable: the next decision on this asset reads every record again (versions are -1)
      }
    }
  }

  /**
   * What another process committed: its records (those newer than the cache's), devices and counters. Returns
   * whether inspections or devices changed, for the live feed.
   */
  applyNotice(notice: ChangeNotice): { inspections: boolean; devices: boolean } {
    const changed = { inspections: false, devices: false };
    if (notice.origin === this.origin) return changed;
    const records = notice.keys.filter((k) => k[0] === 'i' || k[0] === 'w');
    if (records.length > 0) {
      // By primary key (kind, id), not a computed key the index cannot serve.
      const rows = this.db.all<RecordRow & { site: string; asset: string }>(
        `select kind, id, site, asset, version, summary, case when summary is null then doc end as doc
           from shared_record where (kind, id) in (select * from unnest(?::text[], ?::text[]))`,
        [records.map((k) => k[0]), records.map((k) => k.slice(2))],
      );
      let reindex = false;
      for (const row of rows) {
        if ((this.versions.get(`${row.kind}/${row.id}`) ?? -1) >= row.version) continue;
        if (row.summary) this.archived([row]);
        if (row.summary || this.put(row)) reindex = true;
        changed.inspections = true;
      }
      if (reindex) forgetCorrelationIndex(this.cache().state);
    }
    const devices = notice.keys.filter((k) => k.startsWith('d/')).map((k) => k.slice(2));
    if (devices.length > 0) {
      const { state } = this.cache();
      for (const { key, doc } of this.db.all<{ key: string; doc: string }>(
        'select key, doc from shared_device where key = any(?::text[])',
        [devices],
      ))
        state.devices[key] = JSON.parse(doc) as DeviceRecord;
      changed.devices = true;
    }
    if (notice.keys.includes('c')) this.readCounters(this.cache().state);
    return changed;
  }

  /** After notices may have been missed (the listener reconnected): every row newer than the cache's copy. */
  resync(): { inspections: boolean; devices: boolean } {
    const rows = this.db.all<{ kind: RecordKind; id: string; version: number }>(
      'select kind, id, version from shared_record',
    );
    const keys = rows
      .filter((r) => (this.versions.get(`${r.kind}/${r.id}`) ?? -1) < r.version)
      .map((r) => `${r.kind}/${r.id}`);
    const devices = this.db.all<{ key: string }>('select key from shared_device').map((r) => `d/${r.key}`);
    return this.applyNotice({ origin: '', keys: [...keys, ...devices, 'c'] });
  }

  /**
   * Archives closed records quiet since `cutoff` (at most `limit`), each only if its row is still the version this
   * cache holds, under its asset's lock: their rows keep them, every process keeps only their summaries. How many.
   */
  archiveClosed(cutoff: number, limit: number, dirty: (kind: ChangeKind, id: string) => boolean): number {
    const { state } = this.cache();
    const due = [
      ...state.inspections
        .filter((i) => inspectionDue(i, cutoff) && !dirty('inspection', i.id))
        .map((record) => ({ kind: 'i' as const, record })),
      ...state.watches
        .filter((w) => watchDue(w, cutoff) && !dirty('watch', w.id))
        .map((record) => ({ kind: 'w' as const, record })),
    ].slice(0, limit);
    if (due.length === 0) return 0;
    const assets = [...new Map(due.map(({ record: r }) => [assetKey(r.site, r.asset), [r.site, r.asset]])).values()];
    const pairs = 'select * from unnest(?::text[], ?::text[]) as p(site, asset)';
    const keys = due.map(({ kind, record }) => `${kind}/${record.id}`);
    let rows: RecordRow[];
    try {
      [, , rows] = this.db.batch([
        ['begin'],
        [
          `select 1 from shared_asset where (site, asset) in (${pairs}) order by site, asset for update`,
          [assets.map(([site]) => site), assets.map(([, asset]) => asset)],
        ],
        [
          `update shared_record r set summary = t.s, version = r.version + 1
             from unnest(?::text[], ?::text[], ?::bigint[], ?::text[]) as t(k, i, v, s)
            where r.kind = t.k and r.id = t.i and r.version = t.v
           returning r.kind, r.id, r.version, r.summary`,
          [
            due.map((d) => d.kind),
            due.map((d) => d.record.id),
            keys.map((key) => this.versions.get(key) ?? -1),
            due.map(({ kind, record }) => this.archive.summaryOf(kind, record)),
          ],
        ],
        [
          'select pg_notify(?, ?)',
          [CHANGES_CHANNEL, JSON.stringify({ origin: this.origin, keys } satisfies ChangeNotice)],
        ],
        ['commit'],
      ]) as [unknown, unknown, RecordRow[]];
    } catch (error) {
      this.rollback();
      throw error;
    }
    this.archived(rows);
    if (rows.length > 0) forgetCorrelationIndex(state);
    return rows.length;
  }

  /** Rows archived (here or by another process): out of the cache, their summaries kept, their versions known. */
  private archived(rows: RecordRow[]): void {
    this.forget(new Set(rows.map((r) => `${r.kind}/${r.id}`)));
    for (const row of rows) {
      this.versions.set(`${row.kind}/${row.id}`, Number(row.version));
      this.archive.hold(row.kind, row.summary!);
    }
  }

  /** Drops dedup ids made before `since` (UUIDv7 ids sort by time): retention as a query, whichever process runs it. */
  prune(since: number): void {
    this.db.run("delete from shared_seen where event_id < ? and event_id like '________-____-7%'", [uuidFloor(since)]);
  }

  /** The version this cache holds of an inspection: a save based on an older one would undo another process's change. */
  inspectionVersion(id: string): number | undefined {
    return this.versions.get(`i/${id}`);
  }

  /** Refuses a save over an inspection another process changed since this one read it. */
  static changedElsewhere(id: string): PdmError {
    return new PdmError('PDM_ERR_CHANGED_ELSEWHERE', `inspection ${id} was changed by another hub process meanwhile`);
  }
}
