import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import type { Logger } from '../../config/logger.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import type { ModelAckMessage } from '../../protocol/messages.js';
import { topicFor } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { readModel } from '../../models/artifacts.js';
import { deviceScope, signManifest } from '../../models/bundle.js';
import type { OperatorPolicy } from '../../models/onnx/operators.js';
import type { HubSigningKey } from './keys.js';
import {
  abortRollout,
  approvalProblem,
  approveRollout,
  DEFAULT_APPLY_TIMEOUT_MS,
  onAck,
  onTick,
  planProblem,
  startRollout,
  type AlarmCounts,
  type Effect,
  type ModelRef,
  type RolloutPolicy,
  type RolloutState,
  type ScoreEvidence,
  type Transition,
} from './rollout.js';
import { fileRegistryStorage, type RegistryState, type RegistryStorage } from './storage.js';
import type { ModelVersions, RegistryEntry } from './store.js';

export type Publish = (topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }) => Promise<void>;

export interface RegistryDeps {
  /** Where the registry keeps keys, versions and rollouts (`<hub dataDir>/registry`). */
  dir: string;
  publish: Publish;
  /** Anomaly alarms a device raised in [from, to] (ms, inclusive); the hub answers this from its store. */
  countAlarms?: (site: string, device: string, from: number, to: number) => number;
  /** Prefix for artifact URLs in manifests, e.g. `http://hub:8080`; empty = a path the agent resolves itself. */
  baseUrl?: string;
  now?: () => number;
  /** How long a manifest stays valid; the tick re-signs retained manifests in the second half of their life. */
  manifestTtlMs?: number;
  /** 2: a rollout waits until a supervisor other than the one who started it approves it. Default 1. */
  approvals?: 1 | 2;
  /** ONNX operators a version may use; default DEFAULT_ALLOWED_OPERATORS (models/onnx/operators.ts). */
  allowedOperators?: OperatorPolicy;
  /** Told after a rollout's record changed (proposed, approved, a step, aborted): the Models page redraws. */
  onChange?: () => void;
  /** Where versions, rollouts and the key live; default: files under `dir` (shared mode: PostgreSQL, pg-storage.ts). */
  storage?: RegistryStorage;
  logger: Logger;
}

export const DEFAULT_MANIFEST_TTL_MS = 30 * 24 * 3_600_000;

export const DEFAULT_POLICY: RolloutPolicy = {
  alarmFactor: 3,
  minAlarms: 3,
  soakMs: 10 * 60_000,
  applyTimeoutMs: DEFAULT_APPLY_TIMEOUT_MS,
};

export const artifactPath = (m: ModelRef): string =>
  `/models/${encodeURIComponent(m.modelId)}/${encodeURIComponent(m.version)}/bundle`;

/**
 * The hub's model registry: signs and stores versions, runs staged rollouts through the pure machine in rollout.ts,
 * and carries out its effects by publishing retained manifests. State is persisted after every step.
 */
export class ModelRegistry {
  readonly store: ModelVersions;
  readonly key: HubSigningKey;
  private readonly storage: RegistryStorage;
  private readonly now: () => number;
  private readonly envelopes;
  private state: RegistryState;
  /** The storage's revision `state` was read at or saved as. */
  private revision: number;
  /**
   * Per canary of the running rollout, the scores the hub received under its model (kept in memory: after a restart
   * the soak starts again, which errs on the safe side). One entry per canary, whatever the number of scores.
   */
  private readonly evidence = new Map<string, ScoreEvidence & { rollout: string }>();
  /** When this process began to hear canaries' scores: a missing score is judged only after a full time limit since. */
  private listeningSince: number;

  constructor(private readonly deps: RegistryDeps) {
    this.now = deps.now ?? Date.now;
    this.listeningSince = this.now();
    this.storage = deps.storage ?? fileRegistryStorage(deps.dir, { now: this.now, operators: deps.allowedOperators });
    this.key = this.storage.key;
    this.store = this.storage.versions;
    this.envelopes = createEnvelopeFactory({ site: 'hub', device: 'hub', now: this.now });
    ({ state: this.state, revision: this.revision } = this.storage.rollouts.load());
    // Another process registered a version or stepped a rollout: this cache and its Models pages follow.
    this.storage.onRemote(() => {
      this.refresh();
      this.deps.onChange?.();
    });
  }

  /** Reads the rollouts again when another process saved them since (every change starts from the newest). */
  private refresh(): void {
    if (this.storage.rollouts.revision() === this.revision) return;
    ({ state: this.state, revision: this.revision } = this.storage.rollouts.load());
  }

  get publicKeyPem(): string {
    return this.key.publicKeyPem;
  }

  async close(): Promise<void> {
    await this.storage.close();
  }

  addFromCard(cardPath: string): RegistryEntry {
    const entry = this.store.add(readModel(cardPath));
    this.deps.logger.info(
      { modelId: entry.modelId, version: entry.version, sha256: entry.sha256 },
      'model version registered',
    );
    return entry;
  }

  list(): RegistryEntry[] {
    return this.store.list();
  }

  rollouts(): RolloutState[] {
    return this.state.rollouts;
  }

  rollout(id: string): RolloutState | undefined {
    return this.state.rollouts.find((r) => r.id === id);
  }

  deployed(): Record<string, ModelRef> {
    return this.state.deployed;
  }

  /** `by`: the supervisor starting it (recorded; required when rollouts need two approvals). */
  async start(
    req: {
      model: ModelRef;
      canaries: DeviceRef[];
      rest?: DeviceRef[];
      policy?: Partial<RolloutPolicy>;
    },
    by?: string,
  ): Promise<RolloutState> {
    this.store.get(req.model.modelId, req.model.version);
    this.refresh();
    const approval = this.deps.approvals === 2;
    if (approval && !by)
      throw new PdmError('PDM_ERR_ROLLOUT', 'rollouts need two approvals here: start them as a named supervisor');
    const busy = this.state.rollouts.find((r) => ['canary', 'fleet', 'pending_approval'].includes(r.stage));
    if (busy)
      throw new PdmError(
        'PDM_ERR_ROLLOUT',
        `rollout ${busy.id} (${busy.model.modelId} ${busy.model.version}) is still ${busy.stage}; finish or abort it first`,
      );
    const plan = {
      id: uuidv7(this.now()),
      model: { modelId: req.model.modelId, version: req.model.version },
      canaries: req.canaries,
      rest: req.rest ?? [],
      policy: { ...DEFAULT_POLICY, ...req.policy },
      previous: Object.fromEntries(
        [...req.canaries, ...(req.rest ?? [])].map((d) => [deviceKey(d), this.state.deployed[deviceKey(d)]]),
      ),
    };
    const problem = planProblem(plan);
    if (problem) throw new PdmError('PDM_ERR_ROLLOUT', problem);
    const t = startRollout(plan, this.now(), { by, approval });
    await this.apply(t);
    return t.state;
  }

  /** The second approval: a supervisor other than the one who started it; then the canaries are sent the model. */
  async approve(id: string, by: string): Promise<RolloutState> {
    this.refresh();
    const r = this.rollout(id);
    if (!r) throw new PdmError('PDM_ERR_ROLLOUT', `no rollout ${id}`);
    const problem = approvalProblem(r, by);
    if (problem) throw new PdmError(r.stage === 'pending_approval' ? 'PDM_ERR_APPROVAL' : 'PDM_ERR_ROLLOUT', problem);
    const t = approveRollout(r, by, this.now());
    await this.apply(t);
    return t.state;
  }

  /** Called by ingest for every valid `model/ack`. */
  async handleAck(ack: ModelAckMessage): Promise<void> {
    await this.retried(() => this.ack(ack));
  }

  /** The leader's own steps (acks, checks): a save refused over another process's change is made again on the newer state. */
  private async retried(step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        this.refresh();
        return await step();
      } catch (error) {
        if (attempt >= 3 || !isPdmError(error) || error.code !== 'PDM_ERR_CHANGED_ELSEWHERE') throw error;
      }
    }
  }

  private async ack(ack: ModelAckMessage): Promise<void> {
    let deployedChanged = false;
    if (ack.result === 'applied') {
      // The version names the model only together with the rollout that sent it (its model, or a rollback target).
      const r = this.active() ?? this.state.rollouts.at(-1);
      const ref = [r?.model, ...(r?.devices.map((d) => d.previous) ?? [])].find((m) => m?.version === ack.version);
      const before = this.state.deployed[deviceKey(ack)];
      if (ref) this.state.deployed[deviceKey(ack)] = ref;
      deployedChanged = !!ref && (before?.modelId !== ref.modelId || before.version !== ref.version);
    }
    const current = this.active();
    if (!current) {
      this.persist();
      if (deployedChanged) this.deps.onChange?.();
      return;
    }
    const notified = await this.apply(
      onAck(
        current,
        {
          site: ack.site,
          device: ack.device,
          version: ack.version,
          result: ack.result,
          ...(ack.reason ? { reason: ack.reason } : {}),
        },
        this.now(),
      ),
    );
    // What a device runs is on the Models page too: one change told once, whichever part of the record moved.
    if (deployedChanged && !notified) this.deps.onChange?.();
  }

  /**
   * Every score the hub receives (ingest's telemetry), with the model the device says scored it: what promotes a
   * canary is an unbroken run of these under the rollout's version, not the device's ack.
   */
  observeScore(site: string, device: string, model: { id: string; version: string } | undefined): void {
    const r = this.active();
    if (r?.stage !== 'canary') return;
    if (!r.devices.some((d) => d.group === 'canary' && d.site === site && d.device === device)) return;
    const key = deviceKey({ site, device });
    if (model?.id !== r.model.modelId || model.version !== r.model.version) {
      this.evidence.delete(key);
      return;
    }
    const e = this.evidence.get(key);
    if (e?.rollout === r.id) e.count += 1;
    else this.evidence.set(key, { rollout: r.id, since: this.now(), count: 1 });
  }

  /**
   * This process hears the canaries' scores from now on (it started, or became the leader of several processes):
   * evidence held from an earlier term is dropped, as scores sent meanwhile went elsewhere.
   */
  listen(): void {
    this.evidence.clear();
    this.listeningSince = this.now();
  }

  /** Periodic: answers past the time limit, alarm-rate check, and the soak on the canaries' scores. */
  async tick(): Promise<void> {
    await this.retried(() => this.check());
  }

  private async check(): Promise<void> {
    await this.refreshRetained();
    const current = this.active();
    if (!current) return;
    const now = this.now();
    const alarms: Record<string, AlarmCounts> = {};
    if (this.deps.countAlarms) {
      for (const d of current.devices) {
        if (d.group !== 'canary' || d.status !== 'applied' || d.at === undefined) continue;
        const span = Math.max(now - d.at, 1);
        alarms[deviceKey(d)] = {
          after: this.deps.countAlarms(d.site, d.device, d.at, now),
          before: this.deps.countAlarms(d.site, d.device, current.startedAt - span, current.startedAt - 1),
        };
      }
    }
    const scores: Record<string, ScoreEvidence> = {};
    for (const [key, e] of this.evidence)
      if (e.rollout === current.id) scores[key] = { since: e.since, count: e.count };
    await this.apply(onTick(current, alarms, now, scores, this.listeningSince));
  }

  async abort(id: string, reason = 'aborted by operator'): Promise<RolloutState> {
    this.refresh();
    const r = this.rollout(id);
    if (!r) throw new PdmError('PDM_ERR_ROLLOUT', `no rollout ${id}`);
    const t = abortRollout(r, reason, this.now());
    await this.apply(t);
    return t.state;
  }

  private active(): RolloutState | undefined {
    return this.state.rollouts.find((r) => r.stage === 'canary' || r.stage === 'fleet');
  }

  /** Records a transition and carries out its effects; true when it told `onChange`. */
  private async apply(t: Transition): Promise<boolean> {
    const i = this.state.rollouts.findIndex((r) => r.id === t.state.id);
    const changed = this.state.rollouts[i] !== t.state; // a new rollout too (i = -1)
    if (i < 0) this.state.rollouts.push(t.state);
    else this.state.rollouts[i] = t.state;
    // Persist before publishing: after a crash the record says at least as much as the devices were told.
    if (changed || t.effects.length) this.persist();
    for (const effect of t.effects) await this.carryOut(effect);
    if (changed || t.effects.length) this.deps.onChange?.();
    if (changed) {
      const last = t.state.steps.at(-1);
      const fields = { rollout: t.state.id, stage: t.state.stage, step: last?.step, detail: last?.detail };
      if (t.state.stage === 'failed' || last?.step === 'ack-timeout') this.deps.logger.warn(fields, 'rollout step');
      else this.deps.logger.info(fields, 'rollout step');
    }
    return changed || t.effects.length > 0;
  }

  private async carryOut(effect: Effect): Promise<void> {
    const topic = topicFor(effect.site, effect.device, 'model');
    const retained = (this.state.retained ??= {});
    if (effect.kind === 'clear') {
      // An empty retained message deletes the retained manifest; the device keeps its last known good model.
      delete retained[deviceKey(effect)];
      this.persist();
      await this.deps.publish(topic, Buffer.alloc(0), { qos: 1, retain: true });
      return;
    }
    const rollback = effect.rollback ?? false;
    const { payload, expiresAt } = this.signed(effect.site, effect.device, effect.model, rollback);
    retained[deviceKey(effect)] = { model: effect.model, rollback, expiresAt };
    this.persist();
    await this.deps.publish(topic, payload, { qos: 1, retain: true });
  }

  /**
   * A manifest for one device, signed now: scoped to that device, with the next sequence number and an expiry. The
   * sequence is at least the clock in ms, so a hub restored from an old backup still issues numbers devices accept.
   */
  manifest(site: string, device: string, model: ModelRef, opts: { rollback?: boolean } = {}): Buffer {
    return this.signed(site, device, model, opts.rollback ?? false).payload;
  }

  private signed(site: string, device: string, model: ModelRef, rollback: boolean) {
    const entry = this.store.get(model.modelId, model.version);
    const envelope = { ...this.envelopes.next(), site, device };
    const url = `${this.deps.baseUrl ?? ''}${artifactPath(model)}`;
    const now = this.now();
    const sequence = Math.max((this.state.sequence ?? 0) + 1, now);
    this.state.sequence = sequence;
    const expiresAt = now + (this.deps.manifestTtlMs ?? DEFAULT_MANIFEST_TTL_MS);
    const fields = {
      modelId: entry.modelId,
      version: entry.version,
      sha256: entry.sha256,
      size: entry.size,
      release: entry.release ?? 0,
      sequence,
      scope: deviceScope(site, device),
      expiresAt,
      rollback,
    };
    const signature = signManifest(fields, this.key.privateKey);
    return { payload: encode('model', { ...envelope, ...fields, signature, url }).payload, expiresAt };
  }

  /** Re-signs retained manifests in the second half of their life, so a device that was away still gets a valid one. */
  private async refreshRetained(): Promise<void> {
    const ttl = this.deps.manifestTtlMs ?? DEFAULT_MANIFEST_TTL_MS;
    const now = this.now();
    for (const [key, r] of Object.entries(this.state.retained ?? {})) {
      if (r.expiresAt - now > ttl / 2) continue;
      const [site, device] = key.split('/') as [string, string];
      await this.carryOut({ kind: 'publish', site, device, model: r.model, rollback: r.rollback });
    }
  }

  /** Saves over the revision this state was read at; refused (and re-read) when another process saved meanwhile. */
  private persist(): void {
    try {
      this.revision = this.storage.rollouts.save(this.state, this.revision);
    } catch (error) {
      if (isPdmError(error) && error.code === 'PDM_ERR_CHANGED_ELSEWHERE')
        ({ state: this.state, revision: this.revision } = this.storage.rollouts.load());
      throw error;
    }
  }
}
