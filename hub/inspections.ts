import type { EventMessage } from '../protocol/messages.js';
import { uuidv7 } from '../protocol/uuid.js';
import type { Inspection } from './store/state.js';

/** A new open inspection for the event that starts an episode. Pure: the caller stores it. */
export function openInspection(event: EventMessage, now: number): Inspection {
  return {
    id: uuidv7(now),
    site: event.site,
    device: event.device,
    asset: event.asset,
    status: 'open',
    severity: event.severity,
    score: event.score,
    threshold: event.threshold,
    contributions: event.contributions,
    model: event.model,
    episodeId: event.episodeId,
    events: [{ id: event.id, kind: event.kind, at: event.ts, score: event.score }],
    createdAt: now,
    updatedAt: now,
  };
}

/** Adds a later event of the same episode (its clear, for now) to the inspection. */
export function addEventToInspection(inspection: Inspection, event: EventMessage, now: number): void {
  inspection.events.push({ id: event.id, kind: event.kind, at: event.ts, score: event.score });
  if (event.kind === 'clear') inspection.clearedAt = event.ts;
  inspection.updatedAt = now;
}
