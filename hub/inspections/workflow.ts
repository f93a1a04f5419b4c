import { PdmError } from '../../protocol/errors.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { ACTIONS, type Action } from './actions.js';
import type { Role } from './roles.js';
import type { AuditEntry, Inspection, InspectionStatus, Priority } from './records.js';

/** Who asks: a logged-in user with a role, or the hub itself (SLA escalation). */
export type Actor = { name: string; role: Role } | { name: 'hub'; role: 'hub' };

export interface Command {
  action: Action;
  /** For `assign`: who gets it (round-robin picks are resolved before this pure step). */
  assignee?: string | undefined;
  /** For `resolve`: the fault found; becomes the training label. */
  outcome?: string | undefined;
  note?: string | undefined;
}

const ACTIVE: InspectionStatus[] = ['open', 'acknowledged', 'assigned', 'in_progress', 'escalated'];

/** The whole workflow in one table: from which states an action may run, where it leads, and who may run it. */
const RULES: Record<Action, { from: InspectionStatus[]; to: InspectionStatus; roles: Array<Role | 'hub'> }> = {
  acknowledge: { from: ['open', 'escalated'], to: 'acknowledged', roles: ['technician', 'supervisor'] },
  assign: { from: ['acknowledged', 'assigned', 'escalated', 'in_progress'], to: 'assigned', roles: ['supervisor'] },
  // Assign to me: a technician who finds an alarm takes it on without waiting for a supervisor.
  take: { from: ['open', 'acknowledged', 'escalated'], to: 'assigned', roles: ['technician', 'supervisor'] },
  start: { from: ['assigned'], to: 'in_progress', roles: ['technician', 'supervisor'] },
  resolve: { from: ['in_progress'], to: 'resolved', roles: ['technician', 'supervisor'] },
  false_alarm: { from: ACTIVE, to: 'false_alarm', roles: ['technician', 'supervisor'] },
  escalate: {
    from: ['open', 'acknowledged', 'assigned', 'in_progress'],
    to: 'escalated',
    roles: ['hub', 'supervisor'],
  },
};

export const allowedActions = (status: InspectionStatus, role: Role | 'hub'): Action[] =>
  ACTIONS.filter((a) => RULES[a].from.includes(status) && RULES[a].roles.includes(role));

/**
 * Decides one transition. Pure: returns the next inspection (a copy) and its audit entry, or throws a PdmError that
 * says what was wrong. Side effects (store, webhook, device commands) are the caller's.
 */
export function decide(
  current: Inspection,
  command: Command,
  actor: Actor,
  now: number,
): { next: Inspection; entry: AuditEntry } {
  const rule = RULES[command.action];
  if (!rule)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      `unknown action "${String(command.action)}"; one of ${ACTIONS.join(', ')}`,
    );
  if (!rule.roles.includes(actor.role)) {
    throw new PdmError(
      'PDM_ERR_FORBIDDEN',
      `${actor.role} ${actor.name} may not ${command.action}; needs ${rule.roles.join(' or ')}`,
    );
  }
  if (!rule.from.includes(current.status)) {
    throw new PdmError(
      'PDM_ERR_TRANSITION',
      `cannot ${command.action} an inspection that is ${current.status}; possible: ` +
        `${allowedActions(current.status, actor.role).join(', ') || 'nothing'}`,
    );
  }
  const next: Inspection = { ...current, status: rule.to, updatedAt: now, audit: [...current.audit] };
  switch (command.action) {
    case 'acknowledge':
      next.acknowledgedAt ??= now;
      break;
    case 'assign':
      if (!command.assignee) throw new PdmError('PDM_ERR_BAD_REQUEST', 'assign needs an assignee');
      next.assignee = command.assignee;
      break;
    case 'take':
      if (command.assignee && command.assignee !== actor.name)
        throw new PdmError(
          'PDM_ERR_BAD_REQUEST',
          `take assigns to yourself (${actor.name}); use assign for ${command.assignee}`,
        );
      next.assignee = actor.name;
      next.acknowledgedAt ??= now;
      break;
    case 'resolve':
      if (!command.outcome || command.outcome === 'false_alarm') {
        throw new PdmError(
          'PDM_ERR_BAD_REQUEST',
          'resolve needs an outcome label naming the fault found (use false_alarm to dismiss)',
        );
      }
      next.outcome = { label: command.outcome, ...(command.note ? { note: command.note } : {}) };
      next.closedAt = now;
      break;
    case 'false_alarm':
      next.outcome = { label: 'false_alarm', ...(command.note ? { note: command.note } : {}) };
      next.closedAt = now;
      break;
    case 'escalate':
      next.escalatedAt = now;
      break;
    case 'start':
      break;
  }
  const entry: AuditEntry = {
    at: now,
    by: actor.name,
    action: command.action,
    from: current.status,
    to: rule.to,
    ...(command.note
      ? { note: command.note }
      : command.assignee || command.action === 'take'
        ? { note: `assignee ${next.assignee}` }
        : {}),
  };
  next.audit.push(entry);
  return { next, entry };
}

export function addComment(current: Inspection, actor: Actor, text: string, now: number): Inspection {
  if (actor.role === 'viewer') throw new PdmError('PDM_ERR_FORBIDDEN', `viewer ${actor.name} may not comment`);
  const trimmed = text.trim();
  if (!trimmed || trimmed.length > 4000) throw new PdmError('PDM_ERR_BAD_REQUEST', 'a comment needs 1-4000 characters');
  return {
    ...current,
    updatedAt: now,
    comments: [...current.comments, { id: uuidv7(now), at: now, by: actor.name, text: trimmed }],
  };
}

export type SlaMinutes = Record<Priority, number>;

/** When an open inspection escalates if nobody acknowledges it: derived from stored times, so a restart changes nothing. */
export const ackDeadline = (inspection: Inspection, sla: SlaMinutes): number =>
  inspection.createdAt + sla[inspection.priority] * 60_000;

export const isOverdue = (inspection: Inspection, sla: SlaMinutes, now: number): boolean =>
  inspection.status === 'open' && now >= ackDeadline(inspection, sla);
