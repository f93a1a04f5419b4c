import { describe, expect, it } from 'vitest';
import { HubConfigSchema, validate } from '../../config/index.js';
import { followUpsDue, openFollowUp, type HealthView } from '../../hub/inspections/follow-up.js';
import { openInspection } from '../../hub/inspections/incidents.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { kindOf } from '../../hub/notify/message.js';
import { anomalyEvent } from '../../testkit/hub-events.js';

const MIN = 60_000;
const alarm: HealthView = { state: 'alarm', since: 0, reason: 'score over its limit in 5 of the last 5 windows' };

function closed(device: string, status: 'resolved' | 'false_alarm', closedAt: number, createdAt = 0): Inspection {
  const opened = openInspection(anomalyEvent('plant-1', device), createdAt);
  return { ...opened, status, closedAt, outcome: { label: status === 'resolved' ? 'imbalance' : 'false_alarm' } };
}

describe('follow-ups of resolved machines still in alarm', () => {
  it('follows up a resolved inspection once the quiet time has passed while the machine is in alarm', () => {
    const resolved = closed('pump-001', 'resolved', 10 * MIN);
    const health = () => alarm;
    expect(followUpsDue([resolved], health, 30 * MIN, 39 * MIN)).toEqual([]);
    expect(followUpsDue([resolved], health, 30 * MIN, 40 * MIN).map((d) => d.previous.id)).toEqual([resolved.id]);
    expect(followUpsDue([resolved], () => ({ ...alarm, state: 'healthy' }), 30 * MIN, 50 * MIN)).toEqual([]);
    expect(followUpsDue([resolved], () => undefined, 30 * MIN, 50 * MIN)).toEqual([]);
  });

  it('leaves false alarms alone, and a device whose latest inspection is newer than the resolved one', () => {
    const dismissed = closed('pump-002', 'false_alarm', 10 * MIN);
    const resolved = closed('pump-003', 'resolved', 10 * MIN, 0);
    const newer = { ...openInspection(anomalyEvent('plant-1', 'pump-003'), 20 * MIN) };
    expect(followUpsDue([dismissed, resolved, newer], () => alarm, 30 * MIN, 60 * MIN)).toEqual([]);
  });

  it('opens the follow-up as a new inspection with its own audit entry that says why', () => {
    const resolved = closed('pump-001', 'resolved', 10 * MIN);
    const next = openFollowUp(resolved, alarm, 40 * MIN, 30);
    expect(next).toMatchObject({ status: 'open', origin: 'follow_up', device: 'pump-001', createdAt: 40 * MIN });
    expect(next.id).not.toBe(resolved.id);
    expect(next.audit).toEqual([
      {
        at: 40 * MIN,
        by: 'hub',
        action: 'follow_up',
        from: null,
        to: 'open',
        note:
          `inspection ${resolved.id} was resolved (imbalance) but the machine is still in alarm 30 min later: ` +
          'score over its limit in 5 of the last 5 windows',
      },
    ]);
    expect(followUpsDue([resolved, next], () => alarm, 30 * MIN, 80 * MIN)).toEqual([]);
    expect(kindOf(next.audit[0]!)).toBe('follow_up');
  });
});

describe('notification settings', () => {
  it('names a subscription to a chat webhook that does not exist, and e-mail recipients without an SMTP server', () => {
    const bad = () =>
      validate(
        HubConfigSchema,
        { notifications: { subscriptions: [{ chat: ['ops'], email: ['a@b.example'] }] } },
        'hub.yaml',
      );
    expect(bad).toThrow(/no chat webhook named ops/);
    expect(bad).toThrow(/e-mail recipients need notifications.email/);
    const ok = validate(
      HubConfigSchema,
      { notifications: { chat: { ops: { url: 'https://chat.example/hook' } }, subscriptions: [{ chat: ['ops'] }] } },
      'hub.yaml',
    );
    expect(ok.notifications.subscriptions[0]).toEqual({
      sites: ['*'],
      events: ['opened', 'escalated', 'overdue', 'follow_up'],
      email: [],
      chat: ['ops'],
    });
  });
});
