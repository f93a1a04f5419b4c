import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { applyEvent } from '../../hub/inspections/incidents.js';
import { emptyState, type HubState } from '../../hub/store/state.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { HubStore, memoryMedium } from '../../hub/store/store.js';
import type { Activities } from '../../hub/workflow/activities.js';
import { addComment, allowedActions, decide, type Actor } from '../../hub/inspections/workflow.js';
import { Workflow } from '../../hub/workflow/service.js';
import { isPdmError } from '../../protocol/errors.js';
import { anomalyEvent, silent, tempDir } from '../integration/hub-helpers.js';

const routing = {
  correlationWindowSeconds: 60,
  default: { inspectFrom: 'warning' as const, promoteAfterSeconds: 30, promoteAfterEvents: 3 },
  sites: {},
};
const tech: Actor = { name: 'tina', role: 'technician' };
const boss: Actor = { name: 'sam', role: 'supervisor' };
const viewer: Actor = { name: 'vic', role: 'viewer' };

function fresh(severity: 'warning' | 'critical' = 'warning', now = 0): { state: HubState; inspection: Inspection } {
  const state = emptyState();
  applyEvent(state, anomalyEvent('plant-1', 'pump-001', { severity }), now, {
    windowMs: 60_000,
    policy: routing.default,
  });
  return { state, inspection: state.inspections[0]! };
}

describe('inspection state machine (pure)', () => {
  it('walks open → acknowledged → assigned → in_progress → resolved with a complete audit trail and an outcome label', () => {
    let { inspection } = fresh('critical');
    expect(inspection.priority).toBe('P1');
    inspection = decide(inspection, { action: 'acknowledge' }, tech, 10).next;
    inspection = decide(inspection, { action: 'assign', assignee: 'tina' }, boss, 20).next;
    inspection = decide(inspection, { action: 'start' }, tech, 30).next;
    const before = inspection;
    inspection = decide(
      inspection,
      { action: 'resolve', outcome: 'bearing-wear', note: 'replaced bearing' },
      tech,
      40,
    ).next;
    expect(before.status).toBe('in_progress'); // decide never mutates its input
    expect(inspection).toMatchObject({
      status: 'resolved',
      assignee: 'tina',
      acknowledgedAt: 10,
      closedAt: 40,
      outcome: { label: 'bearing-wear' },
    });
    expect(inspection.audit.map((a) => [a.by, a.action, a.from, a.to, a.at])).toEqual([
      ['hub', 'open', null, 'open', 0],
      ['tina', 'acknowledge', 'open', 'acknowledged', 10],
      ['sam', 'assign', 'acknowledged', 'assigned', 20],
      ['tina', 'start', 'assigned', 'in_progress', 30],
      ['tina', 'resolve', 'in_progress', 'resolved', 40],
    ]);
  });

  it('refuses wrong states, wrong roles and missing labels with a clear error', () => {
    const { inspection } = fresh();
    const fail = (fn: () => unknown, code: string, text: RegExp) => {
      try {
        fn();
        throw new Error('expected an error');
      } catch (error) {
        expect(isPdmError(error), String(error)).toBe(true);
        expect((error as { code: string }).code).toBe(code);
        expect((error as Error).message).toMatch(text);
      }
    };
    fail(
      () => decide(inspection, { action: 'start' }, tech, 1),
      'PDM_ERR_TRANSITION',
      /cannot start an inspection that is open; possible: acknowledge, take, false_alarm/,
    );
    fail(
      () => decide(inspection, { action: 'acknowledge' }, viewer, 1),
      'PDM_ERR_FORBIDDEN',
      /viewer vic may not acknowledge/,
    );
    fail(() => decide(inspection, { action: 'escalate' }, tech, 1), 'PDM_ERR_FORBIDDEN', /needs hub or supervisor/);
    const acked = decide(inspection, { action: 'acknowledge' }, tech, 1).next;
    fail(() => decide(acked, { action: 'assign', assignee: 'x' }, tech, 2), 'PDM_ERR_FORBIDDEN', /may not assign/);
    fail(() => decide(acked, { action: 'assign' }, boss, 2), 'PDM_ERR_BAD_REQUEST', /needs an assignee/);
    const started = decide(
      decide(acked, { action: 'assign', assignee: 'tina' }, boss, 2).next,
      { action: 'start' },
      tech,
      3,
    ).next;
    fail(() => decide(started, { action: 'resolve' }, tech, 4), 'PDM_ERR_BAD_REQUEST', /needs an outcome label/);
    const dismissed = decide(started, { action: 'false_alarm', note: 'sensor loose' }, tech, 4).next;
    expect(dismissed.outcome).toEqual({ label: 'false_alarm', note: 'sensor loose' });
    expect(allowedActions(dismissed.status, 'supervisor')).toEqual([]);
    fail(() => addComment(dismissed, viewer, 'hi', 5), 'PDM_ERR_FORBIDDEN', /may not comment/);
    expect(addComment(dismissed, tech, ' checked again ', 5).comments).toMatchObject([
      { by: 'tina', text: 'checked again', at: 5 },
    ]);
  });
});

describe('take (assign to me)', () => {
  it('lets a technician take an open, acknowledged or escalated inspection and work it alone to resolution', () => {
    for (const before of ['open', 'acknowledged', 'escalated'] as const) {
      let { inspection } = fresh('critical');
      if (before === 'acknowledged') inspection = decide(inspection, { action: 'acknowledge' }, tech, 5).next;
      if (before === 'escalated') inspection = decide(inspection, { action: 'escalate' }, boss, 5).next;
      expect(allowedActions(inspection.status, 'technician'), before).toContain('take');
      const { next, entry } = decide(inspection, { action: 'take' }, tech, 10);
      expect(next, before).toMatchObject({ status: 'assigned', assignee: 'tina' });
      expect(next.acknowledgedAt, before).toBe(before === 'acknowledged' ? 5 : 10);
      expect(entry).toEqual({
        at: 10,
        by: 'tina',
        action: 'take',
        from: before,
        to: 'assigned',
        note: 'assignee tina',
      });
      const started = decide(next, { action: 'start' }, tech, 20).next;
      expect(decide(started, { action: 'resolve', outcome: 'imbalance' }, tech, 30).next.status).toBe('resolved');
    }
  });

  it('takes for the caller only, never for someone else, and not once assigned or closed; viewers may not', () => {
    const { inspection } = fresh();
    expect(decide(inspection, { action: 'take' }, boss, 1).next.assignee).toBe('sam');
    expect(() => decide(inspection, { action: 'take', assignee: 'tina' }, boss, 1)).toThrow(/take assigns to yourself/);
    expect(() => decide(inspection, { action: 'take' }, viewer, 1)).toThrow(/viewer vic may not take/);
    const assigned = decide(inspection, { action: 'take' }, tech, 1).next;
    expect(() => decide(assigned, { action: 'take' }, tech, 2)).toThrow(/cannot take an inspection that is assigned/);
    expect(allowedActions('resolved', 'technician')).not.toContain('take');
    expect(allowedActions('open', 'viewer')).toEqual([]);
  });
});

describe('Workflow service: SLA escalation with node-cron and fake timers', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await cleanup?.();
  });

  const noActivities = (): Activities & { calls: string[] } => {
    const calls: string[] = [];
    return {
      calls,
      notifyCmms: async (i, e) => (calls.push(`${i.id}:${e.action}`), true),
      sendCommand: async () => {
        throw new Error('no commands in this test');
      },
    };
  };

  it('escalates an unacknowledged inspection when its SLA passes, and again for one that fell due while the hub was down', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 8, 0, 0) });
    const doc = memoryMedium();
    const config = { sla: { ackMinutes: { P1: 1, P2: 5, P3: 60 }, checkCron: '* * * * * *' }, technicians: {} };
    const boot = async () => {
      const store = await HubStore.over(doc, { coalesceMs: 5 });
      const activities = noActivities();
      const workflow = new Workflow({ store, identities, activities, config, routing, logger: silent });
      return { store, workflow, activities };
    };

    let hub = await boot();
    hub.store.recordEvent(anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }), Date.now(), {
      windowMs: 60_000,
      policy: routing.default,
    });
    hub.store.recordEvent(anomalyEvent('plant-1', 'pump-002', { severity: 'warning' }), Date.now(), {
      windowMs: 60_000,
      policy: routing.default,
    });
    const committed = hub.store.commit(); // its coalescing timer is fake too
    await vi.advanceTimersByTimeAsync(10);
    await committed;
    hub.workflow.start();
    const [p1, p2] = hub.store.state.inspections.map((i) => i.id) as [string, string];

    await vi.advanceTimersByTimeAsync(50_000);
    expect(hub.workflow.get(p1).status).toBe('open');
    await vi.advanceTimersByTimeAsync(12_000);
    expect(hub.workflow.get(p1).status).toBe('escalated');
    expect(hub.workflow.get(p1).audit.at(-1)).toMatchObject({
      by: 'hub',
      action: 'escalate',
      from: 'open',
      to: 'escalated',
    });
    expect(hub.workflow.get(p2).status).toBe('open');
    expect(hub.activities.calls).toEqual([`${p1}:escalate`]);

    // The hub stops two minutes in; P2's deadline (5 min) passes while it is down.
    await vi.advanceTimersByTimeAsync(60_000);
    await hub.workflow.stop();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    await hub.store.flush();
    expect(doc.journal.bytes).toBeGreaterThan(0);

    hub = await boot(); // a restart: nothing but the stored document carries over
    expect(hub.store.state.inspections.find((i) => i.id === p2)!.status).toBe('open');
    hub.workflow.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const escalated = hub.workflow.get(p2);
    expect(escalated.status).toBe('escalated');
    expect(escalated.audit.map((a) => a.action)).toEqual(['open', 'escalate']);
    expect(escalated.audit[1]!.note).toMatch(/within 5 min \(P2\)/);
    // Escalated once only: later checks leave it alone.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(hub.workflow.get(p2).audit).toHaveLength(2);
    await hub.workflow.stop();
  });

  it('assigns round-robin per site, remembering its place across restarts', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    const doc = memoryMedium();
    const config = {
      sla: { ackMinutes: { P1: 60, P2: 60, P3: 60 }, checkCron: '0 0 * * * *' },
      technicians: { 'plant-1': ['ann', 'ben', 'cid'] },
    };
    const picks: string[] = [];
    for (let boot = 0; boot < 2; boot += 1) {
      const store = await HubStore.over(doc, { coalesceMs: 0 });
      const workflow = new Workflow({ store, identities, activities: noActivities(), config, routing, logger: silent });
      for (let n = 0; n < 2; n += 1) {
        store.recordEvent(anomalyEvent('plant-1', `pump-${boot}${n}`), 0, {
          windowMs: 0,
          policy: routing.default,
        });
        const id = store.state.inspections.at(-1)!.id;
        await workflow.transition(id, { action: 'acknowledge' }, tech);
        picks.push((await workflow.transition(id, { action: 'assign' }, boss)).assignee!);
      }
      await store.flush();
    }
    expect(picks).toEqual(['ann', 'ben', 'cid', 'ann']);
  });
});
