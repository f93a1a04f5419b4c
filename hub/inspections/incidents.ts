import type { EventMessage, Severity } from '../../protocol/messages.js';
import { uuidv7 } from '../../protocol/uuid.js';
import {
  holderOfWatch,
  isClosed,
  type Inspection,
  type InspectionEventRef,
  type Priority,
  type RoutingCounters,
  type WatchItem,
} from './records.js';
import { maxSeverity, severityAtLeast, type RoutingPolicy } from './routing.js';
import { madeBefore, type SeenEvents } from './seen-events.js';

/** The records correlation decides over: what the store keeps in memory of the incidents. */
export interface IncidentState {
  inspections: Inspection[];
  watches: WatchItem[];
  /** Event id → the inspection or watch that took it: redelivered and replayed events create nothing new. */
  seenEvents: SeenEvents;
  routing: RoutingCounters;
}

/** What one event did: the records it changed are named here, so whoever keeps them knows what to write. */
export type IncidentOutcome =
  | { kind: 'duplicate'; id: string }
  | { kind: 'opened' | 'joined'; inspection: Inspection }
  | { kind: 'promoted'; inspection: Inspection; watch: WatchItem }
  | { kind: 'watch-opened' | 'watch-joined' | 'watch-cleared'; watch: WatchItem }
  | { kind: 'ignored'; eventId: string };

/** The closed inspections that left the state (the store's archive): correlation may still need one. */
export interface ArchivedIncidents {
  episodeHolder(episodeId: string): string | undefined;
  /** A scan of the archive: only for replays older than the dedup horizon. */
  eventHolder(eventId: string): string | undefined;
  /** Brings an archived inspection back into the state, to take a late clear. */
  revive(id: string): Inspection | undefined;
}

export interface ApplyOptions {
  windowMs: number;
  policy: RoutingPolicy;
  archived?: ArchivedIncidents;
  /** Dedup entries of events made before this may have been pruned (the store's retention horizon). */
  dedupSince?: number;
}

const PRIORITY: Record<Severity, Priority> = { critical: 'P1', warning: 'P2', info: 'P3' };

export const priorityFor = (severity: Severity): Priority => PRIORITY[severity];

/**
 * Correlation and routing: what one event does to the incidents. Synchronous, so two events for one asset a few ms
 * apart can never both see "no open inspection" and open two.
 */
export function applyEvent(
  state: IncidentState,
  event: EventMessage,
  now: number,
  opts: ApplyOptions,
): IncidentOutcome {
  const seen = state.seenEvents.get(event.id);
  if (seen !== undefined) return { kind: 'duplicate', id: seen };
  if (opts.dedupSince !== undefined && madeBefore(event.id, opts.dedupSince)) {
    // Its dedup entry may be gone: look for the event in the records themselves.
    const holder = holderOf(state, event.id) ?? opts.archived?.eventHolder(event.id);
    if (holder !== undefined) return { kind: 'duplicate', id: holder };
  }
  return event.kind === 'clear' ? applyClear(state, event, now, opts.archived) : applyAnomaly(state, event, now, opts);
}

function applyAnomaly(state: IncidentState, event: EventMessage, now: number, opts: ApplyOptions): IncidentOutcome {
  const index = correlationIndex(state);
  const latest = index.inspections.latestFor(event.site, event.asset);
  if (latest && !isClosed(latest.record.status) && withinWindow(latest.record, event, now, opts.windowMs)) {
    const inspection = latest.record;
    joinInspection(inspection, event, now);
    index.inspections.noteEpisode(latest.at, event.episodeId);
    state.seenEvents.set(event.id, inspection.id);
    return { kind: 'joined', inspection };
  }

  const latestWatch = index.watches.latestFor(event.site, event.asset);
  if (
    latestWatch &&
    latestWatch.record.status === 'watching' &&
    withinWindow(latestWatch.record, event, now, opts.windowMs)
  ) {
    const watch = latestWatch.record;
    watch.events.push(eventRef(event));
    if (!watch.episodeIds.includes(event.episodeId)) watch.episodeIds.push(event.episodeId);
    index.watches.noteEpisode(latestWatch.at, event.episodeId);
    watch.severity = maxSeverity(watch.severity, event.severity);
    watch.lastEventAt = now;
    const anomalies = watch.events.filter((e) => e.kind === 'anomaly').length;
    if (severityAtLeast(watch.severity, opts.policy.inspectFrom) || anomalies >= opts.policy.promoteAfterEvents) {
      const inspection = promote(state, watch, now, `watch reached ${watch.severity} / ${anomalies} anomalies`);
      state.seenEvents.set(event.id, inspection.id);
      return { kind: 'promoted', inspection, watch };
    }
    state.seenEvents.set(event.id, watch.id);
    return { kind: 'watch-joined', watch };
  }

  state.routing.incidents += 1;
  if (severityAtLeast(event.severity, opts.policy.inspectFrom)) {
    const inspection = openInspection(event, now);
    state.inspections.push(inspection);
    state.routing.toPeople += 1;
    state.seenEvents.set(event.id, inspection.id);
    return { kind: 'opened', inspection };
  }
  const watch: WatchItem = {
    id: uuidv7(now),
    site: event.site,
    asset: event.asset,
    device: event.device,
    severity: event.severity,
    status: 'watching',
    episodeIds: [event.episodeId],
    clearedEpisodes: [],
    events: [eventRef(event)],
    firstEvent: event,
    openedAt: now,
    lastEventAt: now,
  };
  state.watches.push(watch);
  state.seenEvents.set(event.id, watch.id);
  return { kind: 'watch-opened', watch };
}

/** A clear belongs to its episode wherever that went, however long ago. */
function applyClear(
  state: IncidentState,
  event: EventMessage,
  now: number,
  archived: ArchivedIncidents | undefined,
): IncidentOutcome {
  const index = correlationIndex(state);
  // Inspection ids are UUIDv7 made at opening, so the smaller id is the one opened first.
  const hot = index.inspections.firstWith(event.episodeId);
  const cold = archived?.episodeHolder(event.episodeId);
  const found = cold === undefined || (hot && hot.id < cold) ? hot : (archived!.revive(cold) ?? hot);
  // A clear closes only what its own device took part in: another device that learnt the episode id cannot.
  const inspection = found?.devices.includes(event.device) ? found : undefined;
  if (inspection) {
    inspection.events.push(eventRef(event));
    inspection.clearedAt = event.ts;
    inspection.updatedAt = now;
    state.seenEvents.set(event.id, inspection.id);
    return { kind: 'joined', inspection };
  }
  const candidate = index.watches.firstWith(event.episodeId);
  const watch = candidate?.events.some((e) => e.device === event.device && e.episodeId === event.episodeId)
    ? candidate
    : undefined;
  if (watch) {
    watch.events.push(eventRef(event));
    if (!watch.clearedEpisodes.includes(event.episodeId)) watch.clearedEpisodes.push(event.episodeId);
    state.seenEvents.set(event.id, watch.id);
    if (watch.status === 'watching' && watch.clearedEpisodes.length === watch.episodeIds.length) {
      watch.status = 'cleared';
      watch.closedAt = now;
      state.routing.watchesCleared += 1;
      return { kind: 'watch-cleared', watch };
    }
    return { kind: 'watch-joined', watch };
  }
  // An episode never seen open (or another device's): no record holds the event, so its dedup entry stands alone.
  state.seenEvents.set(event.id, '');
  return { kind: 'ignored', eventId: event.id };
}

/** The inspection or watch that holds an event: a scan, only for replays older than the dedup horizon. */
function holderOf(state: IncidentState, eventId: string): string | undefined {
  const held = (x: { events: Array<{ id: string }> }) => x.events.some((e) => e.id === eventId);
  const inspection = state.inspections.find(held);
  if (inspection) return inspection.id;
  const watch = state.watches.find(held);
  return watch && holderOfWatch(watch);
}

function withinWindow(
  x: { site: string; asset: string; lastEventAt: number },
  event: EventMessage,
  now: number,
  windowMs: number,
): boolean {
  return x.site === event.site && x.asset === event.asset && now - x.lastEventAt <= windowMs;
}

function joinInspection(inspection: Inspection, event: EventMessage, now: number): void {
  inspection.events.push(eventRef(event));
  if (!inspection.episodeIds.includes(event.episodeId)) inspection.episodeIds.push(event.episodeId);
  if (!inspection.devices.includes(event.device)) inspection.devices.push(event.device);
  const severity = maxSeverity(inspection.severity, event.severity);
  if (severity !== inspection.severity) {
    inspection.severity = severity;
    inspection.priority = priorityFor(severity);
  }
  delete inspection.clearedAt; // it is active again
  inspection.lastEventAt = now;
  inspection.updatedAt = now;
}

/** A watch item becomes an inspection that keeps its events and episodes. */
function promote(state: IncidentState, watch: WatchItem, now: number, reason: string): Inspection {
  const inspection = openInspection(watch.firstEvent, now, 'watch');
  inspection.events = [...watch.events];
  inspection.episodeIds = [...watch.episodeIds];
  inspection.devices = [...new Set(watch.events.map((e) => e.device))];
  inspection.severity = watch.severity;
  inspection.priority = priorityFor(watch.severity);
  inspection.audit[0]!.note = reason;
  state.inspections.push(inspection);
  watch.status = 'promoted';
  watch.closedAt = now;
  watch.inspectionId = inspection.id;
  for (const ref of watch.events) state.seenEvents.set(ref.id, inspection.id);
  state.routing.toPeople += 1;
  return inspection;
}

/** Watches still uncleared after their policy's time: persistence makes them inspections. */
export function overdueWatches(
  state: IncidentState,
  now: number,
  policyFor: (site: string) => RoutingPolicy,
): WatchItem[] {
  return state.watches.filter(
    (w) => w.status === 'watching' && now - w.openedAt >= policyFor(w.site).promoteAfterSeconds * 1000,
  );
}

/** Promotes one overdue watch (see `overdueWatches`). */
export function promoteOverdue(state: IncidentState, watch: WatchItem, now: number): Inspection {
  return promote(state, watch, now, `watch persisted ${Math.round((now - watch.openedAt) / 1000)} s`);
}

/** Every overdue watch promoted; what the SLA check runs. */
export function promoteOverdueWatches(
  state: IncidentState,
  now: number,
  policyFor: (site: string) => RoutingPolicy,
): Inspection[] {
  return overdueWatches(state, now, policyFor).map((watch) => promoteOverdue(state, watch, now));
}

export function eventRef(event: EventMessage): InspectionEventRef {
  return {
    id: event.id,
    device: event.device,
    episodeId: event.episodeId,
    kind: event.kind,
    severity: event.severity,
    at: event.ts,
    score: event.score,
  };
}

/** A new open inspection for the anomaly that starts an incident; the caller keeps it. */
export function openInspection(event: EventMessage, now: number, origin: Inspection['origin'] = 'event'): Inspection {
  return {
    id: uuidv7(now),
    site: event.site,
    asset: event.asset,
    device: event.device,
    devices: [event.device],
    status: 'open',
    priority: priorityFor(event.severity),
    severity: event.severity,
    score: event.score,
    threshold: event.threshold,
    contributions: event.contributions,
    ...(event.spectrum ? { spectrum: event.spectrum } : {}),
    model: event.model,
    origin,
    episodeIds: [event.episodeId],
    events: [eventRef(event)],
    lastEventAt: now,
    createdAt: now,
    updatedAt: now,
    comments: [],
    audit: [{ at: now, by: 'hub', action: origin === 'watch' ? 'promote' : 'open', from: null, to: 'open' }],
  };
}

// The correlation index: kept here so that deciding an event never leaves this file for its lookups.

interface Correlated {
  site: string;
  asset: string;
  lastEventAt: number;
  episodeIds: string[];
}

/**
 * Answers correlation's two questions (an asset's latest record, an episode's first) without a scan: records are
 * only appended or replaced in place with the same asset and episodes, so it catches up on the list's tail.
 */
class ListCorrelation<T extends Correlated> {
  /** Site, then asset: no joined key string to build and hash on every lookup. */
  private readonly latestByAsset = new Map<string, Map<string, number>>();
  private readonly firstByEpisode = new Map<string, number>();
  private indexed = 0;

  constructor(private readonly list: () => T[]) {}

  private catchUp(): T[] {
    const list = this.list();
    for (; this.indexed < list.length; this.indexed += 1) {
      const record = list[this.indexed]!;
      let assets = this.latestByAsset.get(record.site);
      if (!assets) this.latestByAsset.set(record.site, (assets = new Map()));
      const current = assets.get(record.asset);
      if (current === undefined || list[current]!.lastEventAt <= record.lastEventAt)
        assets.set(record.asset, this.indexed);
      this.noteEpisodes(this.indexed, record.episodeIds);
    }
    return list;
  }

  /**
   * The asset's record with the latest event. Only it can still be open and within the window: a newer record is
   * opened only when the older one is out of the window, and then the older one never takes an event again.
   */
  latestFor(site: string, asset: string): { record: T; at: number } | undefined {
    const list = this.catchUp();
    const at = this.latestByAsset.get(site)?.get(asset);
    return at === undefined ? undefined : { record: list[at]!, at };
  }

  /** The first record that holds an episode (the one a linear scan would find first). */
  firstWith(episodeId: string): T | undefined {
    const list = this.catchUp();
    const at = this.firstByEpisode.get(episodeId);
    return at === undefined ? undefined : list[at];
  }

  /** An existing record took new episodes. */
  noteEpisodes(at: number, episodeIds: string[]): void {
    for (const episode of episodeIds) this.noteEpisode(at, episode);
  }

  /** An existing record took an event of this episode (one call per event, so no array to build). */
  noteEpisode(at: number, episodeId: string): void {
    if (!this.firstByEpisode.has(episodeId)) this.firstByEpisode.set(episodeId, at);
  }
}

interface CorrelationIndex {
  inspections: ListCorrelation<Inspection>;
  watches: ListCorrelation<WatchItem>;
}

const indexes = new WeakMap<Pick<IncidentState, 'inspections' | 'watches'>, CorrelationIndex>();

/** The index of one state object, built on first use (a reopened store has a new state object and a new index). */
function correlationIndex(state: Pick<IncidentState, 'inspections' | 'watches'>): CorrelationIndex {
  let index = indexes.get(state);
  if (!index) {
    index = {
      inspections: new ListCorrelation(() => state.inspections),
      watches: new ListCorrelation(() => state.watches),
    };
    indexes.set(state, index);
  }
  return index;
}

/** Records left the state's lists (archived): the positions are stale, so the next use rebuilds the index. */
export function forgetCorrelationIndex(state: Pick<IncidentState, 'inspections' | 'watches'>): void {
  indexes.delete(state);
}
