import type { EventMessage, Severity } from '../../protocol/messages.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { Inspection, InspectionEventRef, Priority, WatchItem } from '../store/state.js';

const PRIORITY: Record<Severity, Priority> = { critical: 'P1', warning: 'P2', info: 'P3' };

export const priorityFor = (severity: Severity): Priority => PRIORITY[severity];

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

/** A new open inspection for the anomaly that starts an incident. Pure: the caller stores it. */
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

/** A watch item becomes an inspection: it keeps the watch's events and episodes. */
export function promoteWatch(watch: WatchItem, now: number, reason: string): Inspection {
  const inspection = openInspection(watch.firstEvent, now, 'watch');
  inspection.events = [...watch.events];
  inspection.episodeIds = [...watch.episodeIds];
  inspection.devices = [...new Set(watch.events.map((e) => e.device))];
  inspection.severity = watch.severity;
  inspection.priority = priorityFor(watch.severity);
  inspection.audit[0]!.note = reason;
  return inspection;
}
