import type { AuditEntry, Inspection } from '../inspections/records.js';
import { readable, type FeatureCatalog } from '../reasons/catalog.js';
import { anomalyReason } from '../reasons/reason.js';

import { NOTIFICATION_KINDS } from '../../config/schemas/hub.js';

export { NOTIFICATION_KINDS };
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The notification an audit entry makes, if any: opening, promotion, escalation (by a person or the SLA), follow-up. */
export function kindOf(entry: AuditEntry): NotificationKind | undefined {
  if (entry.action === 'open' || entry.action === 'promote') return 'opened';
  if (entry.action === 'follow_up') return 'follow_up';
  if (entry.action === 'escalate') return entry.by === 'hub' ? 'overdue' : 'escalated';
  return undefined;
}

export interface NotificationText {
  kind: NotificationKind;
  site: string;
  subject: string;
  /** Plain text, a few lines: what, where, why, what to do. */
  text: string;
}

const HEADLINE: Record<NotificationKind, string> = {
  opened: 'inspection opened',
  escalated: 'inspection escalated',
  overdue: 'inspection overdue: not acknowledged in time, escalated',
  follow_up: 'follow-up: still over its threshold after the inspection was resolved',
};

/**
 * One notification's words, the same for e-mail and chat: the machine, the priority, the reason in plain words (the
 * API's reason), the score against its limit, and where to act.
 */
export function notificationText(
  kind: NotificationKind,
  inspection: Inspection,
  entry: AuditEntry,
  catalog: FeatureCatalog,
  dashboardUrl?: string,
): NotificationText {
  const where = `${inspection.site}/${inspection.device}`;
  const lines = [
    `${HEADLINE[kind]}: ${where} (asset ${inspection.asset}), ${inspection.priority} ${inspection.severity}`,
    `Why: ${anomalyReason(inspection, catalog)}`,
    `Anomaly score ${readable(inspection.score)} against a limit of ${readable(inspection.threshold)}` +
      ` (model ${inspection.model.id} ${inspection.model.version})`,
    ...(entry.note ? [`Note: ${entry.note}`] : []),
    `Status: ${inspection.status.replace('_', ' ')}${inspection.assignee ? `, assigned to ${inspection.assignee}` : ''}`,
    dashboardUrl
      ? `Open: ${dashboardUrl.replace(/\/$/, '')}/#/inspections/${inspection.id}`
      : `Inspection ${inspection.id}`,
  ];
  return {
    kind,
    site: inspection.site,
    subject: `[${inspection.priority}] ${where}: ${HEADLINE[kind].split(':')[0]}`,
    text: lines.join('\n'),
  };
}
