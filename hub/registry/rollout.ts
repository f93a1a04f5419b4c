/**
 * Staged rollout as a pure state machine (state and input in, next state and effects out; no clock, no I/O), so every
 * transition is unit-tested. A canary that rejects, rolls back or alarms more takes the whole rollout back. Canaries
 * are promoted on the hub's own evidence (their scores under the new version for the soak time), never on acks alone.
 */

import { deviceKey, type DeviceRef } from '../../protocol/device.js';

export interface ModelRef {
  modelId: string;
  version: string;
}

export type Group = 'canary' | 'fleet';
export type DeviceStatus = 'waiting' | 'sent' | 'applied' | 'rejected' | 'rolled_back' | 'reverted' | 'timed_out';
/**
 * `failed`: a canary did not answer within the policy's applyTimeoutMs; its devices were sent back.
 * `pending_approval`: proposed where two supervisors must agree; nothing is signed for a device until another approves.
 */
export type Stage = 'pending_approval' | 'canary' | 'fleet' | 'completed' | 'rolled_back' | 'failed';

/** How long a device may take to apply the model when a rollout's policy does not say (older rollouts). */
export const DEFAULT_APPLY_TIMEOUT_MS = 10 * 60_000;

export interface RolloutDevice extends DeviceRef {
  group: Group;
  status: DeviceStatus;
  /** What the device ran before; undefined = nothing from the registry (its shipped model). */
  previous?: ModelRef;
  reason?: string;
  at?: number;
}

export interface RolloutStep {
  at: number;
  step: string;
  detail?: string;
}

export interface RolloutPolicy {
  /** Roll back when a canary's alarms since applying exceed this factor times its alarms in as long a period before. */
  alarmFactor: number;
  /** Alarms below this count never trigger a rollback (one alarm after zero is not a trend). */
  minAlarms: number;
  /** How long canaries must run the model healthily before the fleet gets it. */
  soakMs: number;
  /** A device sent the model that has not acknowledged it this long after: a canary fails the rollout, a fleet device times out. */
  applyTimeoutMs?: number;
}

export interface RolloutState {
  id: string;
  model: ModelRef;
  policy: RolloutPolicy;
  stage: Stage;
  /** When devices were first sent the model (for a rollout that waited for approval: when it was approved). */
  startedAt: number;
  /** The supervisor who started (or proposed) it, and the one who approved it where two must agree. */
  createdBy?: string;
  approvedBy?: string;
  /** When the last canary acknowledged the model (the soak is measured from each canary's scores, not from this). */
  canariesAppliedAt?: number;
  endedAt?: number;
  reason?: string;
  devices: RolloutDevice[];
  steps: RolloutStep[];
}

/** `rollback` marks a manifest that sends a device back to an older release (agents refuse those otherwise). */
export type Effect =
  | { kind: 'publish'; site: string; device: string; model: ModelRef; rollback?: boolean }
  | { kind: 'clear'; site: string; device: string };

export interface Transition {
  state: RolloutState;
  effects: Effect[];
}

export interface RolloutPlan {
  id: string;
  model: ModelRef;
  canaries: DeviceRef[];
  rest: DeviceRef[];
  policy: RolloutPolicy;
  /** Per device key (`site/device`), the model it runs now, if any came from the registry. */
  previous: Record<string, ModelRef | undefined>;
}

/** Throws a plain message for a plan that cannot be run; the caller wraps it in PDM_ERR_ROLLOUT. */
export function planProblem(plan: RolloutPlan): string | undefined {
  if (plan.canaries.length === 0) return 'a rollout needs at least one canary device';
  const seen = new Set<string>();
  for (const d of [...plan.canaries, ...plan.rest]) {
    if (seen.has(deviceKey(d))) return `device ${deviceKey(d)} is listed twice`;
    seen.add(deviceKey(d));
  }
  if (!(plan.policy.alarmFactor >= 1)) return `alarmFactor must be >= 1, got ${plan.policy.alarmFactor}`;
  if (!(plan.policy.soakMs >= 0)) return `soakMs must be >= 0, got ${plan.policy.soakMs}`;
  const limit = plan.policy.applyTimeoutMs;
  if (limit !== undefined && !(limit >= 1000)) return `applyTimeoutMs must be >= 1000, got ${limit}`;
  return undefined;
}

const clone = (s: RolloutState): RolloutState => ({
  ...s,
  devices: s.devices.map((d) => ({ ...d })),
  steps: [...s.steps],
});
const publishTo = (d: RolloutDevice, model: ModelRef, rollback = false): Effect => ({
  kind: 'publish',
  site: d.site,
  device: d.device,
  model,
  ...(rollback ? { rollback } : {}),
});

function send(state: RolloutState, group: Group, now: number): Effect[] {
  const effects: Effect[] = [];
  for (const d of state.devices) {
    if (d.group !== group || d.status !== 'waiting') continue;
    d.status = 'sent';
    d.at = now;
    effects.push(publishTo(d, state.model));
  }
  state.steps.push({
    at: now,
    step: group === 'canary' ? 'canaries-sent' : 'fleet-sent',
    detail: `${effects.length} device(s)`,
  });
  return effects;
}

/** `by`: the supervisor starting it; with `approval`, the rollout waits (no effects) for another one's approveRollout. */
export function startRollout(
  plan: RolloutPlan,
  now: number,
  opts: { by?: string | undefined; approval?: boolean } = {},
): Transition {
  const devices: RolloutDevice[] = [
    ...plan.canaries.map((d) => ({ ...d, group: 'canary' as const })),
    ...plan.rest.map((d) => ({ ...d, group: 'fleet' as const })),
  ].map((d) => {
    const previous = plan.previous[deviceKey(d)];
    return {
      site: d.site,
      device: d.device,
      group: d.group,
      status: 'waiting' as const,
      ...(previous ? { previous } : {}),
    };
  });
  const state: RolloutState = {
    id: plan.id,
    model: plan.model,
    policy: plan.policy,
    stage: opts.approval ? 'pending_approval' : 'canary',
    startedAt: now,
    ...(opts.by ? { createdBy: opts.by } : {}),
    devices,
    steps: [
      {
        at: now,
        step: 'started',
        detail:
          `${plan.model.modelId} ${plan.model.version}: ${plan.canaries.length} canary, ${plan.rest.length} fleet` +
          (opts.by ? `; by ${opts.by}` : ''),
      },
    ],
  };
  if (opts.approval) {
    state.steps.push({ at: now, step: 'awaiting-approval', detail: 'a second supervisor must approve it' });
    return { state, effects: [] };
  }
  return { state, effects: send(state, 'canary', now) };
}

/** Why `by` may not approve this rollout, or undefined when they may. */
export function approvalProblem(state: RolloutState, by: string): string | undefined {
  if (state.stage !== 'pending_approval') return `rollout ${state.id} is ${state.stage}, not pending approval`;
  if (by === state.createdBy) return `${by} started rollout ${state.id} and cannot approve it; another supervisor must`;
  return undefined;
}

/** A second supervisor approves: the canaries are sent the model now. Check approvalProblem first. */
export function approveRollout(current: RolloutState, by: string, now: number): Transition {
  const state = clone(current);
  state.stage = 'canary';
  state.approvedBy = by;
  state.startedAt = now;
  state.steps.push({ at: now, step: 'approved', detail: `by ${by} (started by ${state.createdBy ?? 'unknown'})` });
  return { state, effects: send(state, 'canary', now) };
}

/** Every device that was sent the new model goes back to what it had: its previous manifest, or none. */
function rollBack(state: RolloutState, reason: string, now: number, stage: Stage = 'rolled_back'): Transition {
  const effects: Effect[] = [];
  for (const d of state.devices) {
    if (d.status === 'waiting') continue;
    effects.push(d.previous ? publishTo(d, d.previous, true) : { kind: 'clear', site: d.site, device: d.device });
    if (d.status === 'sent' || d.status === 'applied') d.status = 'reverted';
  }
  state.stage = stage;
  state.reason = reason;
  state.endedAt = now;
  state.steps.push({
    at: now,
    step: stage === 'failed' ? 'failed' : 'rolled-back',
    detail: `${reason}; ${effects.length} device(s) reverted`,
  });
  return { state, effects };
}

const active = (s: RolloutState): boolean => s.stage === 'canary' || s.stage === 'fleet';

export interface AckInput extends DeviceRef {
  version: string;
  result: 'applied' | 'rejected' | 'rolled_back';
  reason?: string;
}

/**
 * What the hub itself saw of a canary: since when (hub clock) every score it received from the device named the
 * rollout's model and version, and how many. A score under another model ends the run.
 */
export interface ScoreEvidence {
  since: number;
  count: number;
}

export function onAck(current: RolloutState, ack: AckInput, now: number): Transition {
  const device = current.devices.find((d) => d.site === ack.site && d.device === ack.device);
  // Acks for other versions (e.g. the previous model re-applied after a rollback) do not move this rollout.
  if (!active(current) || !device || ack.version !== current.model.version || device.status === 'waiting')
    return { state: current, effects: [] };
  const state = clone(current);
  const d = state.devices.find((x) => x.site === ack.site && x.device === ack.device)!;
  if (d.status === ack.result) return { state: current, effects: [] };
  d.status = ack.result;
  d.at = now;
  if (ack.reason) d.reason = ack.reason;
  state.steps.push({
    at: now,
    step: `ack-${ack.result}`,
    detail: `${deviceKey(d)} (${d.group})${ack.reason ? `: ${ack.reason}` : ''}`,
  });
  if (ack.result !== 'applied') {
    if (d.group === 'canary')
      return rollBack(
        state,
        `canary ${deviceKey(d)} ${ack.result === 'rejected' ? 'rejected' : 'rolled back'} the model${ack.reason ? `: ${ack.reason}` : ''}`,
        now,
      );
    return { state, effects: finish(state, now) }; // a fleet device that refuses keeps its old model; reported, not fatal
  }
  return advance(state, now, undefined);
}

/**
 * Moves on when the current stage is done: canaries applied and each scored by the hub under the new version for the
 * soak time → fleet; fleet all answered → completed. Without evidence (an ack) the canary stage only records the ack.
 */
function advance(state: RolloutState, now: number, scores: Record<string, ScoreEvidence> | undefined): Transition {
  const canaries = state.devices.filter((d) => d.group === 'canary');
  if (state.stage === 'canary' && canaries.every((d) => d.status === 'applied')) {
    state.canariesAppliedAt ??= now;
    const soaked = (d: RolloutDevice) => {
      const e = scores?.[deviceKey(d)];
      return e !== undefined && e.count > 0 && now - e.since >= state.policy.soakMs;
    };
    if (!canaries.every(soaked)) return { state, effects: [] };
    state.stage = 'fleet';
    const shortest = Math.min(...canaries.map((d) => now - scores![deviceKey(d)]!.since));
    const seen = canaries.reduce((n, d) => n + scores![deviceKey(d)]!.count, 0);
    state.steps.push({
      at: now,
      step: 'canaries-healthy',
      detail: `${seen} score(s) under ${state.model.version} received, for at least ${shortest} ms`,
    });
    const effects = send(state, 'fleet', now);
    return { state, effects: [...effects, ...finish(state, now)] };
  }
  if (state.stage === 'fleet') return { state, effects: finish(state, now) };
  return { state, effects: [] };
}

function finish(state: RolloutState, now: number): Effect[] {
  const fleet = state.devices.filter((d) => d.group === 'fleet');
  if (fleet.every((d) => d.status !== 'waiting' && d.status !== 'sent')) {
    state.stage = 'completed';
    state.endedAt = now;
    const refused = fleet.filter((d) => d.status !== 'applied').length;
    state.steps.push({
      at: now,
      step: 'completed',
      detail: refused ? `${refused} fleet device(s) kept their old model` : 'all devices applied',
    });
  }
  return [];
}

export interface AlarmCounts {
  /** Anomaly alarms from the canary since it applied the model, and in a period as long just before the rollout. */
  after: number;
  before: number;
}

/**
 * Devices sent the model that have not answered within the time limit: a late canary fails the whole rollout (its
 * devices go back), a late fleet device times out and keeps its old model.
 */
function timeouts(current: RolloutState, now: number): Transition | undefined {
  const limit = current.policy.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
  const late = current.devices.filter((d) => d.status === 'sent' && d.at !== undefined && now - d.at >= limit);
  if (late.length === 0) return undefined;
  const state = clone(current);
  const within = `within ${Math.round(limit / 1000)} s`;
  const canary = late.find((d) => d.group === 'canary');
  if (canary)
    return rollBack(
      state,
      `canary ${deviceKey(canary)} did not apply ${state.model.modelId} ${state.model.version} ${within}: no model ` +
        'ack (is model sync configured on its agent, and is the agent online?)',
      now,
      'failed',
    );
  for (const d of state.devices) {
    if (!late.some((l) => l.site === d.site && l.device === d.device)) continue;
    d.status = 'timed_out';
    d.reason = `no model ack ${within}`;
    d.at = now;
    state.steps.push({ at: now, step: 'ack-timeout', detail: `${deviceKey(d)} (fleet): no model ack ${within}` });
  }
  return { state, effects: finish(state, now) };
}

/**
 * A canary that acknowledged the model but from which the hub has received no score under it within the time limit
 * (it still reports another version, or none) fails the rollout: its ack is not borne out. The limit runs from the
 * ack, or from when this process began to hear scores (`listeningSince`) if later: scores sent before a restart or a
 * change of leader reached another process, or none, so their absence here proves nothing.
 */
function unproven(
  current: RolloutState,
  scores: Record<string, ScoreEvidence>,
  now: number,
  listeningSince: number,
): Transition | undefined {
  if (current.stage !== 'canary') return undefined;
  const limit = current.policy.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
  const liar = current.devices.find(
    (d) =>
      d.group === 'canary' &&
      d.status === 'applied' &&
      d.at !== undefined &&
      now - Math.max(d.at, listeningSince) >= limit &&
      !scores[deviceKey(d)]?.count,
  );
  if (!liar) return undefined;
  const { modelId, version } = current.model;
  return rollBack(
    clone(current),
    `canary ${deviceKey(liar)} acknowledged ${modelId} ${version} but the hub received no score under it within ` +
      `${Math.round(limit / 1000)} s (its telemetry names another model or version, or none)`,
    now,
    'failed',
  );
}

/**
 * Time passing: answers overdue past the time limit, canary alarm rates (counts per device key), and the canaries'
 * scores as the hub received them (per device key), which alone can end the soak.
 */
export function onTick(
  current: RolloutState,
  alarms: Record<string, AlarmCounts>,
  now: number,
  scores: Record<string, ScoreEvidence> = {},
  listeningSince = -Infinity,
): Transition {
  if (!active(current)) return { state: current, effects: [] };
  const late = timeouts(current, now) ?? unproven(current, scores, now, listeningSince);
  if (late) return late;
  if (current.stage !== 'canary') return { state: current, effects: [] };
  const { alarmFactor, minAlarms } = current.policy;
  for (const d of current.devices) {
    if (d.group !== 'canary' || d.status !== 'applied') continue;
    const counts = alarms[deviceKey(d)];
    if (counts && counts.after >= minAlarms && counts.after > alarmFactor * Math.max(counts.before, 1)) {
      const state = clone(current);
      state.steps.push({
        at: now,
        step: 'alarm-rate',
        detail: `${deviceKey(d)}: ${counts.after} alarms after vs ${counts.before} before (factor ${alarmFactor})`,
      });
      return rollBack(state, `canary ${deviceKey(d)} alarm rate rose ${counts.after} vs ${counts.before} before`, now);
    }
  }
  if (current.canariesAppliedAt === undefined) return { state: current, effects: [] };
  const t = advance(clone(current), now, scores);
  return t.state.stage === current.stage ? { state: current, effects: [] } : t;
}

/** An operator stops the rollout by hand. */
export function abortRollout(current: RolloutState, reason: string, now: number): Transition {
  if (!active(current) && current.stage !== 'pending_approval') return { state: current, effects: [] };
  return rollBack(clone(current), reason, now);
}
