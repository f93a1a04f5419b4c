import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { IdentityStore } from '../auth/identities.js';
import { followUpsDue, openFollowUp, type HealthView } from '../inspections/follow-up.js';
import type { IncidentOutcome } from '../inspections/incidents.js';
import { RoutingPolicies, type RoutingConfig } from '../inspections/routing.js';
import type { AuditEntry, Inspection } from '../inspections/records.js';
import type { HubStore } from '../store/store.js';
import type { Activities } from './activities.js';
import {
  ackDeadline,
  addComment,
  decide,
  isOverdue,
  type Actor,
  type Command,
  type SlaMinutes,
} from '../inspections/workflow.js';

export interface WorkflowConfig {
  sla: { ackMinutes: SlaMinutes; checkCron: string };
  /** Technicians per site for round-robin assignment; a site not listed uses every user with the technician role. */
  technicians: Record<string, string[]>;
  /** A machine still in alarm this long after its inspection was resolved gets a follow-up; 0: never. */
  followUpAfterMinutes?: number;
}

const HUB: Actor = { name: 'hub', role: 'hub' };

/**
 * Runs the inspection workflow: the pure machine decides, the store makes it durable, and only then do activities
 * run. SLA deadlines derive from stored times, so the first check after a restart escalates what fell due meanwhile.
 */
export class Workflow {
  private task: ScheduledTask | undefined;
  readonly stats = { escalations: 0, followUps: 0 };

  constructor(
    private readonly deps: {
      store: HubStore;
      identities: IdentityStore;
      activities: Activities;
      config: WorkflowConfig;
      routing: RoutingConfig;
      logger: Logger;
      now?: () => number;
      /** E-mail and chat: told every committed change (it picks what is worth a message). */
      notifier?: { inspectionChanged(inspection: Inspection, entry: AuditEntry): unknown };
      /** Each device's health, for follow-ups of resolved machines that stay in alarm. */
      health?: (site: string, device: string) => HealthView | undefined;
    },
  ) {
    this.policies = new RoutingPolicies(deps.routing);
  }

  private readonly policies: RoutingPolicies;

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  start(): void {
    this.task = cron.schedule(
      this.deps.config.sla.checkCron,
      () =>
        void this.sweep().catch((error: Error) => this.deps.logger.error({ err: error.message }, 'SLA check failed')),
      {
        name: 'pdm-sla-check',
        noOverlap: true,
      },
    );
    void this.sweep().catch((error: Error) => this.deps.logger.error({ err: error.message }, 'SLA check failed'));
  }

  /** Stops the checks (a check under way finishes); start() may run them again, as a new leader does. */
  async stop(): Promise<void> {
    const task = this.task;
    this.task = undefined;
    await task?.destroy();
  }

  /** When an open inspection escalates unless acknowledged; nothing for the others. */
  ackDueAt(inspection: Inspection): number | undefined {
    return inspection.status === 'open' ? ackDeadline(inspection, this.deps.config.sla.ackMinutes) : undefined;
  }

  /** An inspection in the state, or a closed one read from the store's archive. */
  get(id: string): Inspection {
    const found = this.deps.store.inspection(id);
    if (!found) throw new PdmError('PDM_ERR_NOT_FOUND', `no inspection ${id}`);
    return found;
  }

  async transition(id: string, command: Command, actor: Actor): Promise<Inspection> {
    const current = this.get(id);
    const assignee =
      command.action === 'assign' && !command.assignee ? this.nextTechnician(current.site) : command.assignee;
    const { next, entry } = decide(current, { ...command, ...(assignee ? { assignee } : {}) }, actor, this.now());
    this.deps.store.saveInspection(next);
    if (command.action === 'assign' && !command.assignee) this.deps.store.countAssignment(current.site);
    await this.deps.store.commit();
    this.deps.logger.info(
      { inspection: id, by: actor.name, action: entry.action, from: entry.from, to: entry.to },
      'inspection transition',
    );
    this.notify(next, entry);
    return next;
  }

  async comment(id: string, actor: Actor, text: string): Promise<Inspection> {
    const next = addComment(this.get(id), actor, text, this.now());
    this.deps.store.saveInspection(next);
    await this.deps.store.commit();
    return next;
  }

  /** Escalates overdue inspections, promotes persisting watches, follows up resolved machines still in alarm. */
  async sweep(): Promise<{ escalated: string[]; promoted: string[]; followUps: string[] }> {
    const now = this.now();
    const escalated: Array<{ next: Inspection; entry: AuditEntry }> = [];
    for (const inspection of this.deps.store.hotInspections()) {
      if (!isOverdue(inspection, this.deps.config.sla.ackMinutes, now)) continue;
      escalated.push(
        decide(
          inspection,
          {
            action: 'escalate',
            note: `not acknowledged within ${this.deps.config.sla.ackMinutes[inspection.priority]} min (${inspection.priority})`,
          },
          HUB,
          now,
        ),
      );
    }
    for (const { next } of escalated) this.deps.store.saveInspection(next);
    const promoted = this.deps.store.promoteOverdueWatches(now, (site) => this.policies.for(site));
    const followUps = this.followUps(now);
    for (const inspection of followUps) this.deps.store.saveInspection(inspection);
    if (escalated.length === 0 && promoted.length === 0 && followUps.length === 0)
      return { escalated: [], promoted: [], followUps: [] };
    await this.deps.store.commit();
    this.stats.escalations += escalated.length;
    this.stats.followUps += followUps.length;
    for (const { next, entry } of escalated) {
      this.deps.logger.warn({ inspection: next.id, priority: next.priority }, 'inspection escalated: SLA missed');
      this.notify(next, entry);
    }
    for (const inspection of promoted) {
      this.deps.logger.info({ inspection: inspection.id, asset: inspection.asset }, 'watch promoted to inspection');
      this.notify(inspection, inspection.audit[0]!);
    }
    for (const inspection of followUps) {
      this.deps.logger.warn(
        { inspection: inspection.id, device: inspection.device, note: inspection.audit[0]!.note },
        'follow-up opened: resolved machine still in alarm',
      );
      this.notify(inspection, inspection.audit[0]!);
    }
    return {
      escalated: escalated.map((e) => e.next.id),
      promoted: promoted.map((i) => i.id),
      followUps: followUps.map((i) => i.id),
    };
  }

  private followUps(now: number): Inspection[] {
    const minutes = this.deps.config.followUpAfterMinutes ?? 0;
    const { health } = this.deps;
    if (minutes <= 0 || !health) return [];
    return followUpsDue(this.deps.store.hotInspections(), health, minutes * 60_000, now).map(
      ({ previous, health: h }) => openFollowUp(previous, h, now, minutes),
    );
  }

  /** Called by the ingest once an incident change is durable. */
  onIncident(outcome: IncidentOutcome): void {
    if (outcome.kind === 'opened' || outcome.kind === 'promoted')
      this.notify(outcome.inspection, outcome.inspection.audit[0]!);
  }

  private nextTechnician(site: string): string {
    const listed = this.deps.config.technicians[site];
    const pool = listed?.length
      ? listed
      : this.deps.identities
          .listUsers()
          .filter((u) => u.role === 'technician')
          .map((u) => u.name)
          .sort();
    if (pool.length === 0)
      throw new PdmError('PDM_ERR_BAD_REQUEST', `no technicians for site ${site}; name an assignee or add technicians`);
    return pool[this.deps.store.assignments(site) % pool.length]!;
  }

  /**
   * Hands a committed change to the CMMS outbox, which records it durably and delivers it in the background. A crash
   * before it is recorded loses nothing: the outbox records on start what the committed audit trail holds beyond it.
   */
  private notify(inspection: Inspection, entry: AuditEntry): void {
    try {
      this.deps.notifier?.inspectionChanged(inspection, entry);
    } catch (error) {
      this.deps.logger.error({ inspection: inspection.id, err: (error as Error).message }, 'notification failed');
    }
    this.deps.activities.notifyCmms(inspection, entry).catch((error: Error) => {
      this.deps.logger.error(
        { inspection: inspection.id, action: entry.action, err: error.message },
        'could not record the CMMS webhook; it is recorded again on the next start',
      );
    });
  }
}
