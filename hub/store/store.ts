import { join } from 'node:path';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { InspectionArchive, type InspectionSummary, type WatchSummary } from './archive.js';
import type { ArchivedRecords } from './archived-records.js';
import { archiveClosed, archiveClosedWatches, compactArchive, spillEvents } from './archiving.js';
import { FileArchive, MemoryArchive, type ArchiveFile } from './archive-file.js';
import { collectChanges, DirtySet, JournaledEvents, ListIndex, pruneSeen, type ChangeKind } from './changes.js';
import { DurableJsonFile, type DocumentAdapter } from './durable-file.js';
import { InlineFolder, WorkerFolder, type Folder } from './fold.js';
import { encodeRecord, FileJournal, generationOf, MemoryJournal, type Journal } from './journal.js';
import { MemoryDocument } from './memory-document.js';
import {
  ARCHIVE_FILE,
  fromSnapshot,
  JOURNAL_FILE,
  replay,
  shapeProblem,
  SNAPSHOT_FILE,
  type SnapshotDocument,
} from './restore.js';
import type { HubState } from './state.js';
import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import type { EventMessage } from '../../protocol/messages.js';
import {
  applyEvent,
  overdueWatches,
  promoteOverdue,
  type ArchivedIncidents,
  type IncidentOutcome,
} from '../inspections/incidents.js';
import { computeKpis, type Kpis } from '../inspections/kpis.js';
import type { DeviceRecord, Inspection, InspectionStatus, RoutingCounters, WatchItem } from '../inspections/records.js';
import type { RoutingPolicy } from '../inspections/routing.js';
import { SharedRows, type ChangeNotice } from './shared/rows.js';
import type { SqlSession } from './sql/session.js';

/** Where a store keeps its snapshot and its journal, and what folds the one into the other. */
export interface StoreMedium {
  snapshot: DocumentAdapter<SnapshotDocument>;
  journal: Journal;
  folder: Folder;
  /** Closed inspections that left memory, whole. */
  archive: ArchiveFile;
  /** Which engine holds it and where, for health and logs. */
  engine?: { name: string; location: string };
}

/** What /healthz says of the store: its engine, and whether its last snapshot and archive pass worked. */
export interface StoreHealth {
  engine: string;
  location: string;
  ok: boolean;
  error?: string;
}

export function fileMedium(dataDir: string): StoreMedium {
  return {
    snapshot: new DurableJsonFile<SnapshotDocument>(join(dataDir, SNAPSHOT_FILE)),
    journal: new FileJournal(join(dataDir, JOURNAL_FILE)),
    folder: new WorkerFolder(join(dataDir, SNAPSHOT_FILE), join(dataDir, JOURNAL_FILE)),
    archive: new FileArchive(join(dataDir, ARCHIVE_FILE)),
    engine: { name: 'file', location: dataDir },
  };
}

/** Snapshot, journal and archive in memory: a "reopen" over the same medium sees exactly what was stored, nothing shared. */
export function memoryMedium(): StoreMedium & {
  snapshot: MemoryDocument<SnapshotDocument>;
  journal: MemoryJournal;
  archive: MemoryArchive;
} {
  const snapshot = new MemoryDocument<SnapshotDocument>();
  const journal = new MemoryJournal();
  return { snapshot, journal, folder: new InlineFolder(snapshot, journal), archive: new MemoryArchive() };
}

export interface HubStoreOptions {
  /** Commits made within this many ms share one journal append (one fsync). */
  coalesceMs: number;
  /** Dedup entries for events made longer ago than this are dropped (see `dedupSince`). Default 7 days. */
  dedupRetentionHours?: number;
  /**
   * Once the journal is this big (and SNAPSHOT_GROWTH times the last snapshot), its generation is folded into a new
   * snapshot. Default 16 MiB.
   */
  snapshotJournalBytes?: number;
  /**
   * Closed inspections and watch items leave memory this long after closing (the record to the archive file, a summary
   * stays). Default one day, so recent ones stay at hand; 0 archives them at the next check.
   */
  archiveClosedAfterMinutes?: number;
  /**
   * An inspection that took more events than this keeps its first and its latest ones in memory (half this many)
   * and appends the rest to the archive file, read back for the API. Default 64.
   */
  eventsInMemory?: number;
  /**
   * The archive file is rewritten with only what is live once at least this many of its bytes (and as many as are
   * live) are dead: records archived again, spilled events of inspections since archived whole. Default 64 MiB.
   */
  archiveCompactBytes?: number;
  /**
   * The archive's summaries are saved again once this many bytes (and as many as the saved summaries) were appended
   * since they last were, so a start after a crash reads no more than about this much of the archive. Default 16 MiB.
   */
  archiveIndexBytes?: number;
  now?: () => number;
  /** Told when a fold into the snapshot or an archive pass fails (nothing is lost: the journal keeps it all). */
  onError?: (part: 'snapshot' | 'archive', error: Error) => void;
}

const HOUR_MS = 3_600_000;
/**
 * A group this big (touched records) is appended without waiting for `coalesceMs`: under a burst, groups follow
 * each other as fast as the disk syncs them, and an event waits for about one sync instead of for the whole burst.
 */
export const GROUP_KEYS = 512;

/** A group this big is synced inline even when its timer started it (see `appendGroup`). */
const INLINE_KEYS = 64;

/** The next group commit: the callers' promise, and whether its append was started (else its timer runs). */
interface PendingGroup {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
  started: boolean;
}

/** Events decided in one shared-store transaction at most (the rest wait for the next). */
const BATCH_EVENTS = 512;

interface QueuedEvent {
  event: EventMessage;
  now: number;
  rules: { windowMs: number; policy: RoutingPolicy };
  resolve: (outcome: IncidentOutcome) => void;
  reject: (error: unknown) => void;
}

/** How many times the last snapshot's size the journal may grow to before the next snapshot (see `snapshotDue`). */
export const SNAPSHOT_GROWTH = 4;

/**
 * One archive pass archives at most PASS_RECORDS closed inspections and spills at most PASS_EVENTS events (at least
 * one inspection's); while a backlog is left, the next group commit runs the next pass.
 */
export const PASS_RECORDS = 64;
export const PASS_EVENTS = 4096;

/** After a failed fold, the next one waits this long (a fold reads and writes the whole state). */
const FOLD_RETRY_MS = 30_000;

/** How often the store looks for closed inspections to archive (it costs a pass over the state's inspections). */
const ARCHIVE_CHECK_MS = 60_000;

/**
 * The hub's records in memory, durable as a journal of changed records plus snapshots; every change goes through a
 * method that marks it. `commit()` resolves once it is on disk (nearby commits share one fsync), so a commit costs what it changed.
 */
export class HubStore implements ArchivedIncidents {
  private scheduled: PendingGroup | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The fold of the journal's previous generation into the snapshot, while one runs. */
  private folding: Promise<void> | undefined;
  /**
   * The archive pass, while one runs. Commits do not wait for it (its fsync would hold every PUBACK); only what it
   * changed waits, for the group commit after it.
   */
  private archiving: Promise<void> | undefined;
  private foldFailedAt = -Infinity;
  private lastSnapshotBytes: number;
  private readonly dirty = new DirtySet();
  private readonly journaled = new JournaledEvents();
  private readonly index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> };
  private readonly retentionMs: number;
  private readonly snapshotBytes: number;
  private readonly now: () => number;
  private readonly onError: HubStoreOptions['onError'];
  private lastPrune: number;
  private readonly archiveAfterMs: number;
  private readonly eventsInMemory: number;
  private readonly archiveCompactBytes: number;
  private readonly archiveIndexBytes: number;
  private lastArchiveCheck: number;
  /** Why the last archive append failed, if it did (the records stayed in the state). */
  archiveError: Error | undefined;
  /** Group commits written (journal appends and snapshots). */
  writes = 0;
  snapshots = 0;
  /** Why the last snapshot failed, if it did (the journal keeps everything meanwhile). */
  snapshotError: Error | undefined;
  /** Dedup entries dropped by retention since open (including on open). */
  pruned = 0;
  /** Bytes of journal replayed at open (what a restart costs beside reading the snapshot). */
  readonly replayedBytes: number;
  /** The current journal generation's number, written as its first change (`['g', n]`). */
  private generation: number;
  /** Where closed records that left memory are read: this process's archive, or the shared rows' summaries. */
  private readonly archived: ArchivedRecords;

  private constructor(
    readonly state: HubState,
    private readonly medium: StoreMedium,
    private readonly coalesceMs: number,
    opts: HubStoreOptions,
    private readonly archive: InspectionArchive,
    loaded: { generation: number; replayedBytes: number },
    /** With several hub processes on one database: rows are the truth, this state a cache of them (shared/rows.ts). */
    private readonly sharing?: SharedRows,
  ) {
    this.generation = loaded.generation;
    this.replayedBytes = loaded.replayedBytes;
    this.archived = sharing?.archive ?? archive;
    this.index = { inspections: new ListIndex(() => state.inspections), watches: new ListIndex(() => state.watches) };
    this.retentionMs = (opts.dedupRetentionHours ?? 168) * HOUR_MS;
    this.snapshotBytes = opts.snapshotJournalBytes ?? 16 * 1024 * 1024;
    this.lastSnapshotBytes = medium.snapshot.lastWrittenBytes ?? 0;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError;
    this.lastPrune = this.now(); // set again by prune(); typescript wants it assigned here
    this.prune();
    this.archiveAfterMs = (opts.archiveClosedAfterMinutes ?? 24 * 60) * 60_000;
    this.eventsInMemory = Math.max(4, opts.eventsInMemory ?? 64);
    this.archiveCompactBytes = opts.archiveCompactBytes ?? 64 * 1024 * 1024;
    this.archiveIndexBytes = opts.archiveIndexBytes ?? 16 * 1024 * 1024;
    this.lastArchiveCheck = -Infinity; // the first group commit looks
  }

  static async open(dataDir: string, opts: HubStoreOptions): Promise<HubStore> {
    return HubStore.over(fileMedium(dataDir), opts);
  }

  /**
   * Loads the snapshot (a state.json from before the journal loads as one), replays the previous and current
   * journal over it, and cuts a torn tail off the current journal: a record cut short was never acknowledged.
   */
  static async over(medium: StoreMedium, opts: HubStoreOptions): Promise<HubStore> {
    const { snapshot, journal } = medium;
    // Whichever snapshot copy is used, every journal generation replays over it: the .prev copy loses nothing.
    const replayed =
      `; the journals ${journal.path}.older (while a fold runs), ${journal.path}.prev and ` +
      `${journal.path} are replayed over whichever copy is used`;
    const data = await snapshot.read().catch((error: unknown) => {
      if (!isPdmError(error, 'PDM_ERR_STORE_CORRUPT') || !(snapshot instanceof DurableJsonFile)) throw error;
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${error.detail ?? error.message}${replayed}`, {
        cause: error.cause,
      });
    });
    const problem = data === null ? undefined : shapeProblem(data);
    if (problem) {
      const where = snapshot instanceof DurableJsonFile ? `${snapshot.path}: ` : '';
      const prev = snapshot instanceof DurableJsonFile ? `; ${await snapshot.describePrev()}${replayed}` : '';
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${where}${problem}${prev}`);
    }
    // The hub is this directory's only writer: a temp file left by a write cut short (a kill mid-fold) goes.
    if (snapshot instanceof DurableJsonFile) snapshot.removeStaleTemps();
    const state = fromSnapshot(data);
    const through = data?.journalThrough;
    // A generation the snapshot says it holds is skipped, and read no further than its number (the .prev copy holds
    // less, so more is replayed over it).
    const held = (generation: number) => through !== undefined && generation <= through;
    const { older, previous, current } = await journal.read(held);
    const closed = [
      { name: `${journal.path}.older`, data: older },
      { name: `${journal.path}.prev`, data: previous },
    ].filter(({ data: bytes }) => !held(generationOf(bytes) ?? Infinity));
    const generations = [...closed, { name: journal.path, data: current }];
    const { tornBytes, validBytes } = replay(state, generations);
    if (tornBytes > 0) await journal.truncate(validBytes);
    const hot = new Set([...state.inspections, ...state.watches].map((r) => r.id));
    const archive = await InspectionArchive.load(medium.archive, (id) => hot.has(id), state.archiveGeneration);
    const numbered = [through, generationOf(older), generationOf(previous)].map((n) => n ?? 0);
    medium.folder.start(); // before any load: see WorkerFolder
    return new HubStore(state, medium, opts.coalesceMs, opts, archive, {
      generation: generationOf(current) ?? Math.max(...numbered) + 1,
      replayedBytes: generations.reduce((sum, g) => sum + (g.data?.length ?? 0), 0),
    });
  }

  /**
   * Over the rows several hub processes share (cluster.mode shared): the state is read from them and every change is
   * written through under its asset's row lock, so `commit()` has nothing left to wait for. A long incident's events
   * spill to rows as they are written; closed records are archived by marking their rows (shared/archive.ts), after
   * which every process holds only their summaries.
   */
  static async shared(db: SqlSession, origin: string, opts: HubStoreOptions): Promise<HubStore> {
    const medium = { ...memoryMedium(), engine: { name: 'postgres', location: db.where } };
    let store: HubStore | undefined;
    const rows = new SharedRows(
      db,
      origin,
      () => ({ state: store!.state, index: store!.index, takeTouched: () => store!.dirty.take() }),
      Math.max(4, opts.eventsInMemory ?? 64),
    );
    const retentionMs = (opts.dedupRetentionHours ?? 168) * HOUR_MS;
    const state = rows.load((opts.now ?? Date.now)() - retentionMs);
    const archive = await InspectionArchive.load(medium.archive, () => false);
    // Its own spill (shared/spill.ts) bounds events; closed records are archived as rows (shared/archive.ts).
    const forever = { eventsInMemory: Number.MAX_SAFE_INTEGER };
    store = new HubStore(
      state,
      medium,
      opts.coalesceMs,
      { ...opts, ...forever },
      archive,
      { generation: 1, replayedBytes: 0 },
      rows,
    );
    return store;
  }

  /** Another hub process committed: its records into this cache. What changed, for the live feed. */
  applyNotice(notice: ChangeNotice): { inspections: boolean; devices: boolean } {
    return this.sharing?.applyNotice(notice) ?? { inspections: false, devices: false };
  }

  /** Notices may have been missed: the cache compared with every row. */
  resyncShared(): { inspections: boolean; devices: boolean } {
    return this.sharing?.resync() ?? { inspections: false, devices: false };
  }

  health(): StoreHealth {
    const error = this.snapshotError ?? this.archiveError;
    const { name, location } = this.medium.engine ?? { name: 'memory', location: this.medium.journal.path };
    return { engine: name, location, ok: !error, ...(error ? { error: error.message } : {}) };
  }

  /** Marks a record the state holds as changed: the store's own methods call it; its contract suite does too. */
  touch(kind: ChangeKind, key: string): void {
    this.dirty.touch(kind, key);
  }

  /** Correlates one event into the incidents (hub/inspections/incidents.ts) and marks what that changed. */
  recordEvent(event: EventMessage, now: number, rules: { windowMs: number; policy: RoutingPolicy }): IncidentOutcome {
    return this.sharing ? this.decideShared([{ event, now, rules }])[0]! : this.decideEvent(event, now, rules);
  }

  /**
   * With several hub processes: events are decided in batches, one transaction each (every event read off the
   * sockets in one turn of the event loop), so a batch costs two waits for the database instead of each event.
   * Resolves once its batch is committed.
   */
  recordLater(
    event: EventMessage,
    now: number,
    rules: { windowMs: number; policy: RoutingPolicy },
  ): Promise<IncidentOutcome> {
    if (!this.sharing) {
      const outcome = this.recordEvent(event, now, rules);
      return this.commit().then(() => outcome);
    }
    return new Promise((resolve, reject) => {
      if (this.queued.push({ event, now, rules, resolve, reject }) === 1) setImmediate(() => this.decideQueued());
    });
  }

  /** Whether events go through `recordLater` (several hub processes) rather than `recordEvent` and `commit`. */
  get decidesInBatches(): boolean {
    return this.sharing !== undefined;
  }

  private queued: QueuedEvent[] = [];

  private decideQueued(): void {
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0, BATCH_EVENTS);
      let outcomes: IncidentOutcome[];
      try {
        outcomes = this.decideShared(batch);
      } catch (error) {
        for (const q of batch) q.reject(error);
        continue;
      }
      batch.forEach((q, i) => q.resolve(outcomes[i]!));
    }
  }

  /** Events decided in one transaction under their assets' row locks; an id another process took is a duplicate. */
  private decideShared(batch: Array<Omit<QueuedEvent, 'resolve' | 'reject'>>): IncidentOutcome[] {
    const assets = new Map<string, [string, string]>();
    for (const { event } of batch) assets.set(`${event.site}\u0000${event.asset}`, [event.site, event.asset]);
    return this.sharing!.underAssets(
      [...assets.values()],
      batch.map((q) => q.event.id),
      (seen) =>
        batch.map(({ event, now, rules }) => {
          const holder = seen.get(event.id);
          return holder === undefined ? this.decideEvent(event, now, rules) : { kind: 'duplicate', id: holder };
        }),
      (decided) => batch.filter((_, i) => decided[i]!.kind !== 'duplicate').map((q) => q.event.id),
    );
  }

  private decideEvent(
    event: EventMessage,
    now: number,
    rules: { windowMs: number; policy: RoutingPolicy },
  ): IncidentOutcome {
    const outcome = applyEvent(this.state, event, now, {
      windowMs: rules.windowMs,
      policy: rules.policy,
      archived: this,
      dedupSince: this.dedupSince(),
    });
    switch (outcome.kind) {
      case 'joined':
        this.touch('joined', outcome.inspection.id); // took events only: journaled as just those
        break;
      case 'opened':
        this.touch('routing', '');
        this.touch('inspection', outcome.inspection.id);
        break;
      case 'promoted':
        this.touch('watch', outcome.watch.id);
        this.touch('inspection', outcome.inspection.id);
        this.touch('routing', '');
        break;
      case 'watch-opened':
      case 'watch-cleared':
        this.touch('routing', '');
        this.touch('watch', outcome.watch.id);
        break;
      case 'watch-joined':
        this.touch('watch', outcome.watch.id);
        break;
      case 'ignored':
        this.touch('seen', outcome.eventId);
        break;
      case 'duplicate':
        break;
    }
    return outcome;
  }

  /** Promotes the watches that persisted past their site's policy, each marked with its new inspection. */
  promoteOverdueWatches(now: number, policyFor: (site: string) => RoutingPolicy): Inspection[] {
    const sharing = this.sharing;
    if (sharing) {
      // Each under its asset's lock, over the watch as the database holds it (another process may have promoted it).
      return overdueWatches(this.state, now, policyFor).flatMap(({ id, site, asset }) =>
        sharing.underAsset(site, asset, () => {
          const watch = this.index.watches.find(id);
          if (!watch || !overdueWatches({ ...this.state, watches: [watch] }, now, policyFor).length) return [];
          return [this.promoteOne(watch, now)];
        }),
      );
    }
    return overdueWatches(this.state, now, policyFor).map((watch) => this.promoteOne(watch, now));
  }

  private promoteOne(watch: WatchItem, now: number): Inspection {
    const inspection = promoteOverdue(this.state, watch, now);
    this.touch('inspection', inspection.id);
    this.touch('watch', watch.id);
    this.touch('routing', '');
    return inspection;
  }

  /** Stores an inspection's next version (a workflow step); an archived one comes back into the state for it. */
  saveInspection(next: Inspection): void {
    const sharing = this.sharing;
    if (sharing) {
      // Refused when another process changed it since this cache's copy, on which `next` was based.
      const based = sharing.inspectionVersion(next.id);
      return sharing.underAsset(next.site, next.asset, () => {
        if (sharing.inspectionVersion(next.id) !== based) throw SharedRows.changedElsewhere(next.id);
        this.index.inspections.upsert(next);
        this.touch('inspection', next.id);
      });
    }
    this.revive(next.id);
    this.index.inspections.upsert(next);
    this.touch('inspection', next.id);
  }

  /** Counts a round-robin assignment at `site`, so the next pick, after a restart too, is the one after it. */
  countAssignment(site: string): void {
    this.state.roundRobin[site] = this.assignments(site) + 1;
    this.touch('roundRobin', site);
    this.sharing?.writeLoose();
  }

  assignments(site: string): number {
    return this.state.roundRobin[site] ?? 0;
  }

  putDevice(record: DeviceRecord): void {
    const key = deviceKey(record);
    this.state.devices[key] = record;
    this.touch('device', key);
    this.sharing?.writeLoose();
  }

  device(ref: DeviceRef): DeviceRecord | undefined {
    return this.state.devices[deviceKey(ref)];
  }

  devices(): DeviceRecord[] {
    return Object.values(this.state.devices);
  }

  /** The inspections in memory: every open one, and closed ones until they are archived. */
  hotInspections(): readonly Inspection[] {
    return this.state.inspections;
  }

  get routing(): Readonly<RoutingCounters> {
    return this.state.routing;
  }

  /** Every inspection the hub has, in memory or archived. */
  get inspectionCount(): number {
    return this.state.inspections.length + this.archived.size;
  }

  /** The matching inspections, whole: archived ones are filtered on their summary and read only when they match. */
  findInspections(
    matches: (i: Pick<Inspection, 'site' | 'devices' | 'asset' | 'status' | 'priority' | 'assignee'>) => boolean,
  ): Inspection[] {
    const found = this.state.inspections.filter(matches).map((i) => this.whole(i));
    for (const summary of this.archived.summaries()) {
      const record = matches(summary) ? this.wholeInspection(summary.id) : undefined;
      if (record) found.push(record);
    }
    return found;
  }

  /** The watch items with this status (all without one), archived ones included. */
  findWatches(status?: string): WatchItem[] {
    const found = this.state.watches.filter((w) => !status || w.status === status);
    for (const summary of this.archived.watchSummaries()) {
      const record = !status || summary.status === status ? this.watch(summary.id) : undefined;
      if (record) found.push(record);
    }
    return found;
  }

  *inspectionStatuses(): Generator<InspectionStatus> {
    for (const i of this.state.inspections) yield i.status;
    for (const a of this.archived.summaries()) yield a.status;
  }

  *watchStatuses(): Generator<WatchItem['status']> {
    for (const w of this.state.watches) yield w.status;
    for (const a of this.archived.watchSummaries()) yield a.status;
  }

  kpis(now: number): Kpis {
    return computeKpis(this.state, now, this.archived.summaries(), this.archived.watchSummaries());
  }

  /**
   * Every inspection and watch item as the time range of its events, archived and spilled ones included: what
   * training labels telemetry rows with.
   */
  labelSources(): {
    inspections: Array<
      Pick<
        Inspection,
        'id' | 'site' | 'device' | 'devices' | 'status' | 'createdAt' | 'clearedAt' | 'closedAt' | 'outcome'
      > & {
        events: ReadonlyArray<{ at: number }>;
      }
    >;
    watches: Array<
      Pick<WatchItem, 'id' | 'site' | 'device' | 'status' | 'openedAt' | 'closedAt'> & {
        events: ReadonlyArray<{ at: number }>;
      }
    >;
  } {
    return {
      inspections: [
        ...this.state.inspections.map((i) =>
          i.spilled ? { ...i, events: [...i.events, { at: i.spilled.first }, { at: i.spilled.last }] } : i,
        ),
        ...Array.from(this.archived.summaries(), (a) => ({
          ...a,
          events: a.eventCount ? [{ at: a.firstEventAt }, { at: a.lastEventAt }] : [],
        })),
      ],
      watches: [
        ...this.state.watches,
        ...Array.from(this.archived.watchSummaries(), (w) => ({
          ...w,
          events: w.eventCount ? [{ at: w.firstEventAt }, { at: w.lastEventTs }] : [],
        })),
      ],
    };
  }

  /**
   * An inspection by id: the state's record (its events may be spilled), or else one read from the archive (a
   * copy: change it through `revive`).
   */
  inspection(id: string): Inspection | undefined {
    return this.index.inspections.find(id) ?? this.archived.read(id);
  }

  /** The same with every event it took, spilled ones read back: what the API shows. */
  wholeInspection(id: string): Inspection | undefined {
    const found = this.inspection(id);
    return found && this.whole(found);
  }

  /** A record with every event it took (itself when none were spilled). */
  whole(record: Inspection): Inspection {
    return this.archived.whole(record);
  }

  /**
   * Every inspection `device` of `site` took part in that may hold its events in [from, to] (device time), whole:
   * the state's (spilled events read back when their range overlaps) and the archived ones whose range overlaps.
   */
  *inspectionsOf(site: string, device: string, from: number, to: number): Generator<Inspection> {
    for (const i of this.state.inspections) {
      if (i.site !== site || !i.devices.includes(device)) continue;
      yield i.spilled && i.spilled.first <= to && i.spilled.last >= from ? this.whole(i) : i;
    }
    for (const a of this.archived.summaries()) {
      if (
        a.site !== site ||
        !a.devices.includes(device) ||
        a.eventCount === 0 ||
        a.firstEventAt > to ||
        a.lastEventAt < from
      )
        continue;
      const record = this.archived.read(a.id);
      if (record) yield this.archived.whole(record);
    }
  }

  /** What the hub keeps in memory of the archived inspections (never the ones in the state). */
  archivedSummaries(): IterableIterator<InspectionSummary> {
    return this.archived.summaries();
  }

  get archivedCount(): number {
    return this.archived.size;
  }

  /** What the hub keeps in memory of the archived watch items (never the ones in the state). */
  archivedWatches(): IterableIterator<WatchSummary> {
    return this.archived.watchSummaries();
  }

  /** A watch item by id: the state's, or else one read back from the archive. */
  watch(id: string): WatchItem | undefined {
    return this.index.watches.find(id) ?? this.archived.readWatch(id);
  }

  episodeHolder(episodeId: string): string | undefined {
    return this.archived.episodeHolder(episodeId);
  }

  eventHolder(eventId: string): string | undefined {
    return this.archived.eventHolder(eventId);
  }

  /**
   * Brings an archived inspection back into the state so it can change (a comment, a late clear), touched so it
   * is journaled whole; it is archived again once it is closed and quiet. The state's own record if it has one.
   */
  revive(id: string): Inspection | undefined {
    const hot = this.index.inspections.find(id);
    if (hot) return hot;
    const record = this.archived.read(id);
    if (!record) return undefined;
    this.archived.forget(id);
    this.journaled.forget(`i/${id}`);
    this.state.inspections.push(record);
    this.touch('inspection', id);
    return record;
  }

  /** Events made before this may have lost their dedup entry: a replay that old is checked against the records. */
  dedupSince(): number {
    return this.now() - this.retentionMs;
  }

  commit(): Promise<void> {
    if (this.sharing) {
      // Written through already; whatever was marked without a store method (a touch) goes now.
      try {
        if (this.now() - this.lastPrune >= HOUR_MS) this.prune();
        if (this.dirty.size > 0) this.sharing.writeLoose();
        if (this.now() - this.lastArchiveCheck >= Math.min(ARCHIVE_CHECK_MS, this.archiveAfterMs))
          this.archiveShared(this.sharing);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    let group = this.scheduled;
    if (!group) {
      let settle!: Pick<PendingGroup, 'resolve' | 'reject'>;
      const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      const pending: PendingGroup = {
        promise,
        ...settle,
        started: false,
        timer: setTimeout(() => this.startGroup(pending), this.coalesceMs),
      };
      this.scheduled = group = pending;
    }
    // A burst: start the append now rather than at the timer, which only fires once the event loop has read every
    // socket that has data (a whole fleet's burst, then one huge group with every message of it held in memory).
    if (!group.started && this.dirty.size >= GROUP_KEYS) {
      clearTimeout(group.timer);
      this.startGroup(group, true);
    }
    return group.promise;
  }

  /** Appends the group as soon as the append before it is durable; what is touched until then joins it. */
  private startGroup(group: PendingGroup, inline = false): void {
    group.started = true;
    void this.writing
      .catch(() => undefined)
      .then(() => {
        // From here on, new changes belong to the next group.
        if (this.scheduled === group) this.scheduled = undefined;
        const appended = this.appendGroup(inline || this.dirty.size >= INLINE_KEYS);
        // The commits resolve once their record is durable; a fold due now starts its generation before the next group.
        this.writing = appended.then(() => {
          this.writes += 1;
          if (
            !this.archiving &&
            this.now() - this.lastArchiveCheck >= Math.min(ARCHIVE_CHECK_MS, this.archiveAfterMs)
          ) {
            this.archiving = this.archivePass().finally(() => (this.archiving = undefined));
          }
          if (this.snapshotDue()) this.startFold();
        });
        // A failed append rejects its commits (below) and flush(); it must not also surface as unhandled.
        this.writing.catch(() => undefined);
        appended.then(group.resolve, group.reject);
      });
  }

  /**
   * A snapshot is due once the journal passes the configured size and SNAPSHOT_GROWTH times the last snapshot, so a
   * rewrite costs at most a quarter of the journal; a fold cut short is due at once, a failed one after FOLD_RETRY_MS.
   */
  private snapshotDue(): boolean {
    if (this.folding || this.now() - this.foldFailedAt < FOLD_RETRY_MS) return false;
    return (
      this.medium.journal.hasOlder ||
      this.medium.journal.bytes >= Math.max(this.snapshotBytes, SNAPSHOT_GROWTH * this.lastSnapshotBytes)
    );
  }

  /**
   * Starts a journal generation and folds the closed one into the snapshot off this thread; the one before is kept
   * until the snapshot is durable, so any crash replays whole records to the same state.
   */
  private startFold(): void {
    const failed = (error: unknown) => {
      // Nothing committed is lost (it is in the journals); the fold runs again later.
      this.snapshotError = error as Error;
      this.foldFailedAt = this.now();
      this.onError?.('snapshot', error as Error);
    };
    try {
      // A fold cut short folds the same generation again: no new one starts until it is done.
      if (!this.medium.journal.hasOlder) {
        this.medium.journal.rotate();
        this.generation += 1;
      }
    } catch (error) {
      failed(error);
      return;
    }
    this.folding = this.medium.folder
      .fold(this.dedupSince()) // the worker drops old dedup entries from its copy; the state's go hourly
      .then((bytes) => {
        this.medium.journal.dropOlder();
        this.lastSnapshotBytes = bytes;
        this.snapshots += 1;
        this.snapshotError = undefined;
      })
      .catch(failed)
      .finally(() => (this.folding = undefined));
  }

  /** The shared rows' archive pass: a bounded batch per commit while a backlog lasts; never throws. */
  private archiveShared(sharing: SharedRows): void {
    const now = this.now();
    this.lastArchiveCheck = now;
    try {
      const cutoff = now - this.archiveAfterMs;
      const moved = sharing.archiveClosed(cutoff, PASS_RECORDS, (kind, id) => this.dirty.has(kind, id));
      if (moved === PASS_RECORDS) this.lastArchiveCheck = -Infinity;
      this.archiveError = undefined;
    } catch (error) {
      this.archiveError = error as Error; // the records stay in the state; the next check tries again
      this.onError?.('archive', error as Error);
    }
  }

  /** Archives closed inspections, spills long event lists and compacts the archive (hub/store/archiving.ts); never throws. */
  private async archivePass(): Promise<void> {
    const now = this.now();
    this.lastArchiveCheck = now;
    const deps = {
      state: this.state,
      archive: this.archive,
      index: this.index.inspections,
      watches: this.index.watches,
      dirty: this.dirty,
      journaled: this.journaled,
      touch: (kind: ChangeKind, key: string) => this.touch(kind, key),
    };
    try {
      const passes = [
        await archiveClosed(deps, now - this.archiveAfterMs, PASS_RECORDS),
        await archiveClosedWatches(deps, now - this.archiveAfterMs, PASS_RECORDS),
        await spillEvents(deps, this.eventsInMemory, PASS_EVENTS),
      ];
      // A backlog is worked off a bounded pass per group commit, not in one long stall of every commit behind it.
      if (passes.some((p) => p.more)) this.lastArchiveCheck = -Infinity;
      if (await compactArchive(deps, this.archiveCompactBytes)) {
        await this.commit(); // the state that names the new generation...
        await this.archive.keepOnlyInUse(); // ...is durable: the old one can go
        await this.archive.saveIndex(); // and a start reads none of the new one but what is appended after this
      } else {
        // Journal it; a failure shows on the next caller's commit.
        if (passes.some((p) => p.changed > 0)) void this.commit().catch(() => undefined);
        // A start after a crash reads the archive past its last saved summaries: never more than about this much.
        if (this.archive.indexDue(this.archiveIndexBytes)) await this.archive.saveIndex();
      }
      this.archiveError = undefined;
    } catch (error) {
      this.archiveError = error as Error; // nothing left the state; the next check tries again
      this.onError?.('archive', error as Error);
    }
  }

  /**
   * Captures what was touched and appends it as one record. A big group syncs on this thread: a busy loop would see an
   * async fsync complete only after every waiting socket, holding all those PUBACKs and messages meanwhile.
   */
  private appendGroup(inline = false): Promise<void> {
    if (this.now() - this.lastPrune >= HOUR_MS) this.prune();
    const touched = this.dirty.take();
    if (touched.size === 0) return Promise.resolve();
    const failed = (error: unknown) => {
      // Not durable: the next group carries these records again, whole.
      this.journaled.reset();
      for (const [kind, keys] of touched) for (const key of keys) this.dirty.touch(kind, key);
      throw error;
    };
    const changes = collectChanges(this.state, touched, this.index, this.journaled);
    // A generation's first record names it, so a snapshot that holds it can say so (`journalThrough`).
    if (this.medium.journal.bytes === 0) changes.unshift(['g', this.generation]);
    const record = encodeRecord(changes);
    if (inline) {
      try {
        this.medium.journal.appendNow(record);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error).catch(failed);
      }
    }
    return this.medium.journal.append(record).catch(failed);
  }

  /**
   * On close: the whole state as the snapshot, and a fresh journal; the replaced snapshot (now `.prev`) plus the
   * generation closed here still give the whole state.
   */
  private async writeSnapshot(): Promise<void> {
    this.prune();
    try {
      await this.medium.snapshot.write({ ...this.state, journalThrough: this.generation });
      if (!this.medium.journal.hasOlder) {
        this.medium.journal.rotate();
        this.generation += 1;
        this.medium.journal.dropOlder();
      }
      this.snapshots += 1;
    } catch (error) {
      // Nothing committed is lost (it is in the journal).
      this.snapshotError = error as Error;
    }
  }

  /** Drops dedup entries past retention, from the state and from the archive's index (a pass over each). */
  private prune(): void {
    this.lastPrune = this.now();
    this.pruned += pruneSeen(this.state, this.dedupSince());
    this.archived.prune(this.dedupSince());
    this.sharing?.prune(this.dedupSince());
  }

  /** Waits for every commit made so far, and for an archive pass (and the commit of what it changed) and a fold under way. */
  async flush(): Promise<void> {
    if (this.scheduled) await this.scheduled.promise;
    await this.writing;
    if (this.archiving) {
      await this.archiving;
      // what the pass changed
      if (this.scheduled) await this.scheduled.promise;
      await this.writing;
    }
    await this.folding;
  }

  /** Flushes, takes a snapshot (so the next start replays nothing) and releases the journal; once, however often called. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private closing: Promise<void> | undefined;

  private async closeOnce(): Promise<void> {
    if (this.sharing) {
      if (this.dirty.size > 0) this.sharing.writeLoose();
      return;
    }
    await this.flush();
    await this.appendGroup(); // touched but never committed: journal it rather than let a replay undo it
    await this.folding; // one that commit made due: its thread ends below
    this.snapshotError = undefined;
    await this.writeSnapshot();
    await this.medium.journal.close();
    // The archive's summaries as of now, so the next start reads only what is appended after this; without it
    // (a failed write), that start reads the whole file instead.
    await this.archive.saveIndex().catch(() => undefined);
    await this.archive.close();
    await this.medium.folder.close();
    if (this.snapshotError) throw this.snapshotError;
  }
}
