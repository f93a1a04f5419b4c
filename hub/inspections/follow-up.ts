import { uuidv7 } from '../../protocol/uuid.js';
import type { Inspection } from './records.js';

/** What the follow-up check needs of a device's health: its state, since when, and why. */
export interface HealthView {
  state: 'healthy' | 'watch' | 'alarm' | 'offline';
  since: number;
  reason: string;
}

/**
 * The resolved inspections whose machine is still in alarm `quietMs` after the resolution: per device, only its
 * latest inspection counts, so a newer one (opened by a new anomaly, or an earlier follow-up still being worked)
 * means there is nothing to add. A false alarm is not followed up: people said this behaviour is normal.
 */
export function followUpsDue(
  inspections: readonly Inspection[],
  healthOf: (site: string, device: string) => HealthView | undefined,
  quietMs: number,
  now: number,
): Array<{ previous: Inspection; health: HealthView }> {
  const latest = new Map<string, Inspection>();
  for (const i of inspections) {
    const key = `${i.site}/${i.device}`;
    const seen = latest.get(key);
    if (!seen || i.createdAt >= seen.createdAt) latest.set(key, i);
  }
  const due: Array<{ previous: Inspection; health: HealthView }> = [];
  for (const previous of latest.values()) {
    if (previous.status !== 'resolved' || previous.closedAt === undefined) continue;
    if (now - previous.closedAt < quietMs) continue;
    const health = healthOf(previous.site, previous.device);
    if (health?.state === 'alarm') due.push({ previous, health });
  }
  return due;
}

/** A new open inspection that follows up `previous`: same machine, model and evidence, its own audit trail. */
export function openFollowUp(previous: Inspection, health: HealthView, now: number, quietMinutes: number): Inspection {
  return {
    id: uuidv7(now),
    site: previous.site,
    asset: previous.asset,
    device: previous.device,
    devices: [previous.device],
    status: 'open',
    priority: previous.priority,
    severity: previous.severity,
    score: previous.score,
    threshold: previous.threshold,
    contributions: previous.contributions,
    model: previous.model,
    origin: 'follow_up',
    episodeIds: [...previous.episodeIds],
    events: previous.events.slice(-1),
    lastEventAt: now,
    createdAt: now,
    updatedAt: now,
    comments: [],
    audit: [
      {
        at: now,
        by: 'hub',
        action: 'follow_up',
        from: null,
        to: 'open',
        note:
          `inspection ${previous.id} was resolved (${previous.outcome?.label ?? 'no label'}) but the machine is still ` +
          `in alarm ${Math.round(quietMinutes)} min later: ${health.reason}`,
      },
    ],
  };
}
