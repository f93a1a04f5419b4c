import type { EventMessage } from '../../protocol/messages.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { correlationIndex } from './correlation.js';
import { maxSeverity, severityAtLeast, type RoutingPolicy } from './routing.js';
import { holderOfWatch, madeBefore, type ChangeTracker } from '../store/changes.js';
import { isClosed, type HubState, type Inspection, type WatchItem } from '../store/state.js';
import { eventRef, openInspection, priorityFor, promoteWatch } from './opening.js';

export type IncidentOutcome =
  | { kind: 'duplicate'; id: string }
  | { kind: 'opened' | 'joined' | 'promoted'; inspection: Inspection }
  | { kind: 'watch-opened' | 'watch-joined' | 'watch-cleared'; watch: WatchItem }
  | { kind: 'ignored' };

export interface ApplyOptions {
  windowMs: number;
  policy: RoutingPolicy;
  /** Told about every record this changes, so the store journals it. */
  changes: ChangeTracker;
  /** Dedup entries of events made before this may have been pruned (the store's retention horizon). */
  dedupSince?: number;
}

/**
 * Correlation and routing: decides what one event does to the state. Synchronous on purpose: the ingest calls it
 * and only then awaits the store, so two events for the same asset arriving a few ms apart can never both see
 * "no open inspection" and open two.
 */
export function applyEvent(state: HubState, event: EventMessage, now: number, opts: ApplyOptions): IncidentOutcome {
  const seen = state.seenEvents.get(event.id);
  if (seen !== undefined) return { kind: 'duplicate', id: seen };
  if (opts.dedupSince !== undefined && madeBefore(event.id, opts.dedupSince)) {
    // Older than the dedup horizon: its entry may be gone, so look for the event in the records themselves.
    const holder = holderOf(state, event.id) ?? opts.changes.archived?.eventHolder(event.id);
    if (holder !== undefined) return { kind: 'duplicate', id: holder };
  }
  return event.kind === 'clear' ? applyClear(state, event, now, opts.changes) : applyAnomaly(state, event, now, opts);
}

/** The inspection or watch that holds an event: a scan, only for replays older than the dedup horizon. */
function holderOf(state: HubState, eventId: string): string | undefined {
  const held = (x: { events: Array<{ id: string }> }) => x.events.some((e) => e.id === eventId);
  const inspection = state.inspections.find(held);
  if (inspection) return inspection.id;
  const watch = state.watches.find(held);
  return watch && holderOfWatch(watch);
}

/**
 * Records which inspection or watch took an event (the dedup entry). Not touched on its own: the event is in that
 * record's event list, which is touched, and the journal's replay makes the entry again from it.
 */
function markSeen(state: HubState, eventId: string, target: string): void {
  state.seenEvents.set(eventId, target);
}

function withinWindow(
  x: { site: string; asset: string; lastEventAt: number },
  event: EventMessage,
  now: number,
  windowMs: number,
): boolean {
  return x.site === event.site && x.asset === event.asset && now - x.lastEventAt <= windowMs;
}

function applyAnomaly(state: HubState, event: EventMessage, now: number, opts: ApplyOptions): IncidentOutcome {
  const changes = opts.changes;

  const index = correlationIndex(state);
  const latest = index.inspections.latestFor(event.site, event.asset);
  const inspection =
    latest && !isClosed(latest.record.status) && withinWindow(latest.record, event, now, opts.windowMs)
      ? latest.record
      : undefined;
  if (inspection) {
    joinInspection(inspection, event, now);
    index.inspections.noteEpisode(latest!.at, event.episodeId);
    changes.touch('joined', inspection.id);
    markSeen(state, event.id, inspection.id);
    return { kind: 'joined', inspection };
  }

  const latestWatch = index.watches.latestFor(event.site, event.asset);
  const watch =
    latestWatch &&
    latestWatch.record.status === 'watching' &&
    withinWindow(latestWatch.record, event, now, opts.windowMs)
      ? latestWatch.record
      : undefined;
  if (watch) {
    watch.events.push(eventRef(event));
    if (!watch.episodeIds.includes(event.episodeId)) watch.episodeIds.push(event.episodeId);
    index.watches.noteEpisode(latestWatch!.at, event.episodeId);
    watch.severity = maxSeverity(watch.severity, event.severity);
    watch.lastEventAt = now;
    changes.touch('watch', watch.id);
    const anomalies = watch.events.filter((e) => e.kind === 'anomaly').length;
    if (severityAtLeast(watch.severity, opts.policy.inspectFrom) || anomalies >= opts.policy.promoteAfterEvents) {
      const promoted = promote(state, watch, now, `watch reached ${watch.severity} / ${anomalies} anomalies`, changes);
      markSeen(state, event.id, promoted.id);
      return { kind: 'promoted', inspection: promoted };
    }
    markSeen(state, event.id, watch.id);
    return { kind: 'watch-joined', watch };
  }

  state.routing.incidents += 1;
  changes.touch('routing', '');
  if (severityAtLeast(event.severity, opts.policy.inspectFrom)) {
    const opened = openInspection(event, now);
    state.inspections.push(opened);
    changes.touch('inspection', opened.id);
    state.routing.toPeople += 1;
    markSeen(state, event.id, opened.id);
    return { kind: 'opened', inspection: opened };
  }
  const opened: WatchItem = {
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
  state.watches.push(opened);
  changes.touch('watch', opened.id);
  markSeen(state, event.id, opened.id);
  return { kind: 'watch-opened', watch: opened };
}

function applyClear(state: HubState, event: EventMessage, now: number, changes: ChangeTracker): IncidentOutcome {
  // A clear belongs to its episode wherever that went, however long ago.
  const index = correlationIndex(state);
  const inspection = firstWithEpisode(state, event.episodeId, changes);
  if (inspection) {
    inspection.events.push(eventRef(event));
    inspection.clearedAt = event.ts;
    inspection.updatedAt = now;
    changes.touch('joined', inspection.id);
    markSeen(state, event.id, inspection.id);
    return { kind: 'joined', inspection };
  }
  const watch = index.watches.firstWith(event.episodeId);
  if (watch) {
    watch.events.push(eventRef(event));
    if (!watch.clearedEpisodes.includes(event.episodeId)) watch.clearedEpisodes.push(event.episodeId);
    changes.touch('watch', watch.id);
    markSeen(state, event.id, watch.id);
    if (watch.status === 'watching' && watch.clearedEpisodes.length === watch.episodeIds.length) {
      watch.status = 'cleared';
      watch.closedAt = now;
      state.routing.watchesCleared += 1;
      changes.touch('routing', '');
      return { kind: 'watch-cleared', watch };
    }
    return { kind: 'watch-joined', watch };
  }
  // A clear for an episode we never saw open: no record holds it, so its dedup entry is journaled on its own.
  state.seenEvents.set(event.id, '');
  changes.touch('seen', event.id);
  return { kind: 'ignored' };
}

/**
 * The first inspection that holds an episode, in the state or archived (then brought back to take the clear).
 * Inspection ids are UUIDv7 made at opening, so the smaller id is the one opened first.
 */
function firstWithEpisode(state: HubState, episodeId: string, changes: ChangeTracker): Inspection | undefined {
  const hot = correlationIndex(state).inspections.firstWith(episodeId);
  const archived = changes.archived?.episodeHolder(episodeId);
  if (archived === undefined || (hot && hot.id < archived)) return hot;
  return changes.archived!.revive(archived) ?? hot;
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

function promote(state: HubState, watch: WatchItem, now: number, reason: string, changes: ChangeTracker): Inspection {
  const inspection = promoteWatch(watch, now, reason);
  state.inspections.push(inspection);
  changes.touch('inspection', inspection.id);
  watch.status = 'promoted';
  watch.closedAt = now;
  watch.inspectionId = inspection.id;
  changes.touch('watch', watch.id);
  for (const ref of watch.events) markSeen(state, ref.id, inspection.id);
  state.routing.toPeople += 1;
  changes.touch('routing', '');
  return inspection;
}

/** Persistence: watches still uncleared after the policy's time become inspections. Run by the scheduler. */
export function promoteOverdueWatches(
  state: HubState,
  now: number,
  policyFor: (site: string) => RoutingPolicy,
  changes: ChangeTracker,
): Inspection[] {
  const promoted: Inspection[] = [];
  for (const watch of state.watches) {
    if (watch.status !== 'watching') continue;
    const limitMs = policyFor(watch.site).promoteAfterSeconds * 1000;
    if (now - watch.openedAt >= limitMs)
      promoted.push(
        promote(state, watch, now, `watch persisted ${Math.round((now - watch.openedAt) / 1000)} s`, changes),
      );
  }
  return promoted;
}
