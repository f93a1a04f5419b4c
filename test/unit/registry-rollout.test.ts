import { describe, expect, it } from 'vitest';
import {
  abortRollout,
  approvalProblem,
  approveRollout,
  onAck,
  onTick,
  planProblem,
  startRollout,
  type RolloutPlan,
  type RolloutState,
} from '../../hub/registry/rollout.js';

const v2 = { modelId: 'pump', version: '2' };
const v1 = { modelId: 'pump', version: '1' };
const plan = (over: Partial<RolloutPlan> = {}): RolloutPlan => ({
  id: 'r1',
  model: v2,
  canaries: [{ site: 's', device: 'c1' }],
  rest: [
    { site: 's', device: 'f1' },
    { site: 's', device: 'f2' },
  ],
  policy: { alarmFactor: 3, minAlarms: 3, soakMs: 1000 },
  previous: { 's/c1': v1, 's/f1': v1 },
  ...over,
});
const ack = (device: string, result: 'applied' | 'rejected' | 'rolled_back', version = '2', reason?: string) => ({
  site: 's',
  device,
  version,
  result,
  ...(reason ? { reason } : {}),
});
/** The hub received scores from c1 under the new version since `since`. */
const scored = (since: number, count = 3) => ({ 's/c1': { since, count } });
const status = (s: RolloutState) => Object.fromEntries(s.devices.map((d) => [d.device, d.status]));

describe('rollout time limit (applyTimeoutMs)', () => {
  const limited = plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 0, applyTimeoutMs: 60_000 } });

  it('fails the rollout with a reason when a canary does not apply within the limit, and sends its devices back', () => {
    let t = startRollout(limited, 0);
    t = onTick(t.state, {}, 59_999);
    expect(t.state.stage).toBe('canary');
    t = onTick(t.state, {}, 60_000);
    expect(t.state.stage).toBe('failed');
    expect(t.state.reason).toBe(
      'canary s/c1 did not apply pump 2 within 60 s: no model ack (is model sync configured on its agent, and is ' +
        'the agent online?)',
    );
    expect(t.state.endedAt).toBe(60_000);
    expect(t.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v1, rollback: true }]);
    expect(status(t.state)).toEqual({ c1: 'reverted', f1: 'waiting', f2: 'waiting' });
    expect(t.state.steps.at(-1)!.step).toBe('failed');
    // A failed rollout is over: a late ack or tick moves nothing.
    expect(onAck(t.state, ack('c1', 'applied'), 61_000).state).toBe(t.state);
    expect(onTick(t.state, {}, 120_000).state).toBe(t.state);
  });

  it('times out a silent fleet device, which keeps its old model, and completes the rollout', () => {
    let t = startRollout(limited, 0);
    t = onAck(t.state, ack('c1', 'applied'), 1000);
    t = onTick(t.state, {}, 2000, scored(1500));
    expect(t.state.stage).toBe('fleet');
    t = onAck(t.state, ack('f1', 'applied'), 3000);
    t = onTick(t.state, {}, 62_000);
    expect(t.state.stage).toBe('completed');
    expect(status(t.state)).toEqual({ c1: 'applied', f1: 'applied', f2: 'timed_out' });
    expect(t.state.devices.find((d) => d.device === 'f2')!.reason).toBe('no model ack within 60 s');
    expect(t.state.steps.slice(-2).map((s) => s.step)).toEqual(['ack-timeout', 'completed']);
    expect(planProblem(plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 0, applyTimeoutMs: 10 } }))).toMatch(
      /applyTimeoutMs must be >= 1000/,
    );
  });
});

describe('rollout state machine', () => {
  it('refuses plans without canaries, with duplicates or a silly factor', () => {
    expect(planProblem(plan({ canaries: [] }))).toMatch(/at least one canary/);
    expect(planProblem(plan({ rest: [{ site: 's', device: 'c1' }] }))).toMatch(/s\/c1 is listed twice/);
    expect(planProblem(plan({ policy: { alarmFactor: 0.5, minAlarms: 1, soakMs: 0 } }))).toMatch(/alarmFactor/);
    expect(planProblem(plan())).toBeUndefined();
  });

  it('sends to canaries only, waits for their acks and the soak time, then sends to the fleet and completes', () => {
    let t = startRollout(plan(), 0);
    expect(t.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v2 }]);
    expect(status(t.state)).toEqual({ c1: 'sent', f1: 'waiting', f2: 'waiting' });
    t = onAck(t.state, ack('c1', 'applied'), 100);
    expect(t.effects).toEqual([]);
    expect(t.state.stage).toBe('canary');
    t = onTick(t.state, {}, 1100); // the ack alone, however long ago: nothing moves
    expect(t.effects).toEqual([]);
    expect(t.state.stage).toBe('canary');
    t = onTick(t.state, {}, 1100, scored(200)); // scores for 900 ms: soak not over
    expect(t.effects).toEqual([]);
    t = onTick(t.state, { 's/c1': { after: 1, before: 1 } }, 1200, scored(200));
    expect(t.state.stage).toBe('fleet');
    expect(t.effects.map((e) => e.device)).toEqual(['f1', 'f2']);
    t = onAck(t.state, ack('f1', 'applied'), 1200);
    expect(t.state.stage).toBe('fleet');
    t = onAck(t.state, ack('f2', 'rejected', '2', 'PDM_ERR_MODEL_HASH: x'), 1300);
    expect(t.state.stage).toBe('completed');
    expect(t.state.steps.map((s) => s.step)).toEqual([
      'started',
      'canaries-sent',
      'ack-applied',
      'canaries-healthy',
      'fleet-sent',
      'ack-applied',
      'ack-rejected',
      'completed',
    ]);
    expect(t.state.steps.at(-1)!.detail).toMatch(/1 fleet device\(s\) kept their old model/);
  });

  it('a canary that rejects stops the rollout and reverts it to its previous model; the fleet is never sent anything', () => {
    const started = startRollout(plan(), 0);
    const t = onAck(started.state, ack('c1', 'rejected', '2', 'PDM_ERR_MODEL_SIGNATURE: bad'), 50);
    expect(t.state.stage).toBe('rolled_back');
    expect(t.state.reason).toMatch(/canary s\/c1 rejected the model: PDM_ERR_MODEL_SIGNATURE/);
    expect(t.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v1, rollback: true }]);
    expect(status(t.state)).toEqual({ c1: 'rejected', f1: 'waiting', f2: 'waiting' });
    expect(started.state.stage).toBe('canary'); // pure: the input state is untouched
    // Later acks (the previous model re-applied) change nothing.
    expect(onAck(t.state, ack('c1', 'applied', '1'), 60).state).toBe(t.state);
  });

  it('a canary without a previous registry model gets its manifest cleared on rollback', () => {
    const started = startRollout(plan({ previous: {} }), 0);
    const t = onAck(started.state, ack('c1', 'rolled_back', '2', 'NaN'), 10);
    expect(t.effects).toEqual([{ kind: 'clear', site: 's', device: 'c1' }]);
  });

  it('rolls back when a canary alarm rate rises beyond the factor, not for a small rise', () => {
    let t = startRollout(plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 10_000 } }), 0);
    t = onAck(t.state, ack('c1', 'applied'), 10);
    expect(onTick(t.state, { 's/c1': { after: 2, before: 0 } }, 500).state.stage).toBe('canary'); // under minAlarms
    expect(onTick(t.state, { 's/c1': { after: 6, before: 2 } }, 500).state.stage).toBe('canary'); // exactly 3x
    const r = onTick(t.state, { 's/c1': { after: 7, before: 2 } }, 500);
    expect(r.state.stage).toBe('rolled_back');
    expect(r.state.steps.map((s) => s.step).slice(-2)).toEqual(['alarm-rate', 'rolled-back']);
    expect(r.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v1, rollback: true }]);
  });

  it('never promotes on acks alone; a canary whose scores never name the new version fails the rollout', () => {
    let t = startRollout(plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 0, applyTimeoutMs: 60_000 } }), 0);
    t = onAck(t.state, ack('c1', 'applied'), 10);
    expect(t.state.stage).toBe('canary');
    expect(onTick(t.state, {}, 59_999).state.stage).toBe('canary');
    const failed = onTick(t.state, {}, 60_010);
    expect(failed.state.stage).toBe('failed');
    expect(failed.state.reason).toMatch(
      /^canary s\/c1 acknowledged pump 2 but the hub received no score under it within 60 s/,
    );
    expect(failed.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v1, rollback: true }]);
    // With evidence, the same tick promotes instead.
    expect(onTick(t.state, {}, 60_010, scored(60_000, 1)).state.stage).toBe('fleet');
  });

  it('judges a missing score only after a full time limit of listening (a restart, a change of leader)', () => {
    let t = startRollout(
      plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 600_000, applyTimeoutMs: 60_000 } }),
      0,
    );
    t = onAck(t.state, ack('c1', 'applied'), 10);
    // This process began to hear scores at 50,000 (the canary's went elsewhere before): not a liar at 60,010 yet.
    expect(onTick(t.state, {}, 60_010, {}, 50_000).state.stage).toBe('canary');
    expect(onTick(t.state, {}, 109_999, {}, 50_000).state.stage).toBe('canary');
    expect(onTick(t.state, {}, 110_000, {}, 50_000).state).toMatchObject({
      stage: 'failed',
      reason: expect.stringMatching(/^canary s\/c1 acknowledged pump 2 but the hub received no score under it/),
    });
    // Listening since before the ack: the limit runs from the ack, as before.
    expect(onTick(t.state, {}, 60_010, {}, 5).state.stage).toBe('failed');
  });

  it('with a second approval: waits without effects, refuses its starter, then sends; abort while waiting sends nothing', () => {
    const pending = startRollout(plan(), 0, { by: 'sam', approval: true });
    expect(pending.effects).toEqual([]);
    expect(pending.state).toMatchObject({ stage: 'pending_approval', createdBy: 'sam' });
    expect(onTick(pending.state, {}, 10_000_000).state).toBe(pending.state); // no time limit runs while it waits
    expect(approvalProblem(pending.state, 'sam')).toMatch(/sam started rollout r1 and cannot approve it/);
    expect(approvalProblem(pending.state, 'sue')).toBeUndefined();
    const approved = approveRollout(pending.state, 'sue', 50);
    expect(approved.effects).toEqual([{ kind: 'publish', site: 's', device: 'c1', model: v2 }]);
    expect(approved.state).toMatchObject({ stage: 'canary', approvedBy: 'sue', startedAt: 50 });
    expect(approvalProblem(approved.state, 'sue')).toMatch(/is canary, not pending approval/);
    const aborted = abortRollout(pending.state, 'changed our minds', 60);
    expect(aborted.effects).toEqual([]);
    expect(aborted.state.stage).toBe('rolled_back');
  });

  it('can be aborted by hand, reverting every device that was sent the model', () => {
    let t = startRollout(plan({ policy: { alarmFactor: 3, minAlarms: 3, soakMs: 0 } }), 0);
    t = onAck(t.state, ack('c1', 'applied'), 10);
    t = onTick(t.state, {}, 15, scored(12, 1));
    expect(t.state.stage).toBe('fleet');
    const a = abortRollout(t.state, 'operator said so', 20);
    expect(a.state.stage).toBe('rolled_back');
    expect(a.effects).toEqual([
      { kind: 'publish', site: 's', device: 'c1', model: v1, rollback: true },
      { kind: 'publish', site: 's', device: 'f1', model: v1, rollback: true },
      { kind: 'clear', site: 's', device: 'f2' },
    ]);
    expect(abortRollout(a.state, 'again', 30).effects).toEqual([]);
  });
});
