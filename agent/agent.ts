import type { AgentConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { encode } from '../protocol/codec.js';
import type { EnvelopeFactory } from '../protocol/envelope.js';
import type { EventMessage, HealthMessage, OnnxRuntimeHealth } from '../protocol/messages.js';
import type { SampleSource } from '../protocol/samples.js';
import { PdmError } from '../protocol/errors.js';
import { uuidv7 } from '../protocol/uuid.js';
import { CommissionedDetector, type CommissionedState } from '../models/commissioning/detector.js';
import type { DetectorProfile } from '../models/commissioning/profile.js';
import { streamingDetectorsNamed } from '../models/detectors/streaming-registry.js';
import { StreamingChannelsDetector } from './streaming-channels.js';
import { RMS_THRESHOLD_RECIPE, profileRecipe, resolveRecipe, type Recipe, type RecipeOverride } from './recipe.js';
import { RmsThresholdDetector, type Detector } from './detector.js';
import { HealthReporter } from './health.js';
import type { ModelRuntime } from '../models/runtime.js';
import { OnnxDetector, type AsyncDetector } from './onnx-detector.js';
import type { DeviceLink } from './link.js';
import type { Outbox } from './outbox/outbox.js';
import type { Priority } from './outbox/types.js';
import { Pipeline, type PipelineConfig, type Scored } from './pipeline.js';
import type { SensorState } from './sensor-health.js';
import type { SampleFaults } from './windowing.js';
import { AGENT_VERSION } from './version.js';

export { AGENT_VERSION };

/**
 * Told what the agent decided and how it is, for outputs beside the hub (Sparkplug B). Never on the durable path:
 * events reach the hub through the outbox whatever an observer does, and an observer that throws is logged and ignored.
 */
export interface AgentObserver {
  event(event: EventMessage): void;
  /** Every health interval, whether or not the hub is reachable. */
  health(health: HealthMessage, stats: AgentStats): void;
}

export interface AgentDeps {
  source: SampleSource;
  link: DeviceLink;
  /** Everything that must reach the hub goes through the durable outbox; only periodic health goes straight to the link. */
  outbox: Outbox;
  envelopes: EnvelopeFactory;
  logger: Logger;
  /** Where the baseline detector keeps the model it learnt during commissioning. */
  baseline?: { load(): CommissionedState | undefined; save(state: CommissionedState): void };
  /** detector.kind baseline: the detector profile (the composition root loads detector.profile). */
  profile?: DetectorProfile;
  /** Running speed when the config does not say (the simulator knows its machine's). */
  rpm?: number;
  /** detector.kind onnx: the model to score with (model sync's hot-swappable one, or a fixed session). */
  model?: ModelRuntime;
  /** Called after each scored window has been handed on (the composition root's heap trimming, agent/heap-trim.ts). */
  afterWindow?: () => void;
  /** detector.kind onnx: the onnxruntime binding and providers scoring, for health (agent/onnxruntime-info.ts). */
  onnxruntime?: () => OnnxRuntimeHealth;
  observer?: AgentObserver;
}

export interface AgentStats {
  windows: number;
  events: number;
  badSamples: number;
}

/** Status messages (birth and the Will) are built the same way at connect time and at start. */
export function statusMessage(envelopes: EnvelopeFactory, state: 'online' | 'offline', modelVersion: string) {
  return encode('status', { ...envelopes.next(), state, agentVersion: AGENT_VERSION, modelVersion });
}

/** Missing samples a slow channel bridges (a 1 Hz PLC poll that skips a beat) before its window starts afresh. */
export const SLOW_CHANNEL_BRIDGE_SAMPLES = 5;

export function pipelineConfig(cfg: AgentConfig, recipe: Recipe, rpm?: number): PipelineConfig {
  const speed = cfg.machine.rpm ?? rpm;
  return {
    channels: cfg.channels.map((c) => ({
      channel: c.name,
      windowSeconds: c.windowSeconds ?? recipe.windowSeconds,
      hopSeconds: c.hopSeconds ?? c.windowSeconds ?? recipe.hopSeconds,
      ...(c.min !== undefined ? { min: c.min } : {}),
      ...(c.max !== undefined ? { max: c.max } : {}),
      // A slow channel (no spectrum) loses nothing when a few samples go missing; a spectrum would be distorted.
      bridgeGapSamples: c.spectrum ? 0 : SLOW_CHANNEL_BRIDGE_SAMPLES,
      spectrum: c.spectrum,
      bands: c.bands.map((b) => ({ ...b })),
    })),
    primary: cfg.detector.channel,
    ...(speed ? { rpm: speed } : {}),
    ...(cfg.machine.bearing ? { bearing: { ...cfg.machine.bearing } } : {}),
    bearingBandWidth: cfg.machine.bearingBandWidth,
    sensorHealth: { ...cfg.sensorHealth },
    decision: { ...recipe.decision, threshold: recipe.threshold ?? 1, criticalRatio: recipe.criticalRatio },
    queueLimit: cfg.detector.queueLimit,
  };
}

/** The detector a config asks for, and the recipe it runs (its card's or profile's, with the config's overrides). */
export function buildDetector(
  cfg: AgentConfig,
  deps: Pick<AgentDeps, 'model' | 'profile' | 'baseline' | 'logger'>,
): { detector: Detector | AsyncDetector; recipe: Recipe; overrides: RecipeOverride[] } {
  const d = cfg.detector;
  if (d.kind === 'onnx') {
    if (!deps.model)
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        'detector.kind onnx needs a model; the composition root loads detector.card',
      );
    const { card } = deps.model;
    const { recipe, overrides } = resolveRecipe(cfg, {
      source: `card ${card.id}@${card.version}`,
      windowSeconds: 1,
      decision: { ...card.decision },
      criticalRatio: 2,
      threshold: card.threshold.value,
    });
    return { detector: new OnnxDetector(deps.model, d.channel, d.topContributions), recipe, overrides };
  }
  if (d.kind === 'baseline') {
    if (!deps.profile)
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        'detector.kind baseline needs a detector profile; the composition root loads detector.profile',
      );
    const profile = deps.profile;
    const { recipe, overrides } = resolveRecipe(cfg, profileRecipe(profile));
    const detector = new CommissionedDetector(
      {
        profile,
        windowSeconds: recipe.windowSeconds,
        hopSeconds: recipe.hopSeconds,
        topContributions: d.topContributions,
        ...(recipe.commissioningWindows !== undefined ? { windows: recipe.commissioningWindows } : {}),
        ...(recipe.alarmsPerWeek !== undefined ? { alarmsPerWeek: recipe.alarmsPerWeek } : {}),
        ...(recipe.threshold !== undefined ? { threshold: recipe.threshold } : {}),
      },
      (state) => {
        deps.baseline?.save(state);
        deps.logger.info({ ...state.report }, 'commissioning done; model learnt and saved');
      },
      deps.baseline?.load(),
    );
    return { detector, recipe, overrides };
  }
  if (d.kind === 'streaming') {
    const profile = deps.profile;
    if (profile?.model.kind !== 'streaming')
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        `detector.kind streaming needs a profile whose model is streaming${profile ? `; ${profile.id} has ${profile.model.kind}` : ''}`,
      );
    const { recipe, overrides } = resolveRecipe(cfg, { ...profileRecipe(profile), threshold: profile.model.threshold });
    const make = streamingDetectorsNamed(profile.model.detector)[0]?.make;
    const detector = new StreamingChannelsDetector({
      profile,
      make: make!,
      probation: recipe.commissioningWindows ?? profile.commissioning.windows,
      threshold: recipe.threshold ?? profile.model.threshold,
      ranges: Object.fromEntries(
        cfg.channels.map((c) => [
          c.name,
          { ...(c.min !== undefined ? { min: c.min } : {}), ...(c.max !== undefined ? { max: c.max } : {}) },
        ]),
      ),
      topContributions: d.topContributions,
    });
    return { detector, recipe, overrides };
  }
  const { recipe, overrides } = resolveRecipe(cfg, RMS_THRESHOLD_RECIPE);
  return { detector: new RmsThresholdDetector(d.channel, recipe.threshold ?? 1.5), recipe, overrides };
}

/**
 * source → pipeline (windows, features, detector, decision) → outbox. The composition root builds the parts; this
 * class wires them and turns decisions into messages.
 */
export class Agent {
  private readonly pipeline: Pipeline;
  private readonly health: HealthReporter;
  private readonly asset: string;
  private episodeId: string | undefined;
  private events = 0;
  private running = false;
  private healthTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly cfg: AgentConfig,
    recipe: Recipe,
    private readonly detector: Detector | AsyncDetector,
    private readonly deps: AgentDeps,
  ) {
    this.asset = cfg.asset ?? cfg.device;
    this.pipeline = new Pipeline(pipelineConfig(cfg, recipe, deps.rpm), detector, {
      onScored: (result) => this.onScored(result),
      onSensorChange: (channel, state, faults) => this.onSensorChange(channel, state, faults),
      onScoreError: (error, windows) =>
        deps.logger.warn(
          { err: error.message, windows, model: detector.modelVersion },
          'model could not score; windows skipped',
        ),
    });
    this.health = new HealthReporter({
      agentVersion: AGENT_VERSION,
      ...(deps.onnxruntime ? { onnxruntime: deps.onnxruntime } : {}),
      latency: this.pipeline.latency,
      outboxDepth: () => deps.outbox.depth,
      sensors: () => this.pipeline.faults(),
    });
  }

  /** Builds the detector (restoring a commissioned model) before returning, so a started agent can score at once. */
  static async create(cfg: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const { detector, recipe, overrides } = buildDetector(cfg, deps);
    deps.logger.info(
      { recipe: recipe.source, detector: detector.modelId, overrides },
      overrides.length ? 'detection recipe, with overrides from the config' : 'detection recipe',
    );
    return new Agent(cfg, recipe, detector, deps);
  }

  get stats(): AgentStats & { pipeline: Pipeline['stats'] } {
    const faults = Object.values(this.pipeline.faults());
    const badSamples = faults.reduce((sum, f) => sum + f.nonFinite + f.outOfRange, 0);
    return {
      windows: this.pipeline.stats.windows,
      events: this.events,
      badSamples,
      pipeline: { ...this.pipeline.stats },
    };
  }

  async start(): Promise<void> {
    this.running = true;
    this.sendStatus('online');
    // The broker may have published our Will while we were away: say we are back after every reconnect.
    this.deps.link.onConnectionChange((up) => {
      if (up && this.running) this.sendStatus('online');
    });
    await this.deps.source.start((block) => {
      if (this.running) this.pipeline.push(block);
    });
    this.healthTimer = setInterval(() => this.publishHealth(), this.cfg.health.intervalSeconds * 1000);
    this.healthTimer.unref();
    this.deps.logger.info(
      { source: this.deps.source.name, device: this.cfg.device, detector: this.detector.modelId },
      'agent started',
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.healthTimer);
    await this.deps.source.stop();
    // Windows still waiting for an asynchronous model are scored before the agent says goodbye.
    await this.pipeline.idle();
    // A clean stop says offline itself; the broker only sends the Will when the agent vanishes. If the hub is
    // unreachable it stays in the outbox and goes out, in order, at the next start.
    this.sendStatus('offline');
    await this.deps.outbox.flush();
  }

  /** Tells the hub (retained status) which model runs now, e.g. after model sync swapped it. */
  announce(): void {
    if (this.running) this.sendStatus('online');
  }

  /** Resolves once every window so far has been scored. */
  idle(): Promise<void> {
    return this.pipeline.idle();
  }

  /** Health is a snapshot, so it is not queued on disk: sent now if connected, otherwise skipped. */
  publishHealth(): void {
    const { link, observer } = this.deps;
    if (!link.connected && !observer) return;
    const health = this.health.build(this.deps.envelopes.next());
    if (observer) this.observe(() => observer.health(health, this.stats));
    if (!link.connected) return;
    const msg = encode('health', health);
    link.publish(msg.topic, msg.payload, { qos: 0 }).catch(() => undefined);
  }

  private observe(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.deps.logger.warn({ err: (error as Error).message }, 'agent observer failed; ignored');
    }
  }

  private sendStatus(state: 'online' | 'offline'): void {
    this.send(statusMessage(this.deps.envelopes, state, this.detector.modelVersion), 'status', true);
  }

  private onSensorChange(channel: string, state: SensorState, faults: SampleFaults): void {
    this.deps.logger.warn({ channel, state, faults }, 'sensor health changed');
    // A sensor fault is news for the maintenance team too, so it goes through the outbox like a status change.
    this.send(encode('health', this.health.build(this.deps.envelopes.next())), 'status', false);
  }

  private onScored({ window, names, values, score, decision }: Scored): void {
    if (this.cfg.telemetry.enabled) {
      const features: Record<string, number> = {};
      for (let i = 0; i < Math.min(names.length, 256); i++)
        if (Number.isFinite(values[i])) features[names[i]!] = values[i]!;
      this.send(
        encode('telemetry', {
          ...this.deps.envelopes.next(),
          windowStart: Math.max(0, Math.floor(window.start)),
          windowEnd: Math.max(0, Math.floor(window.end)),
          features,
          score: score.score,
          threshold: score.threshold,
          model: { id: this.detector.modelId, version: this.detector.modelVersion },
        }),
        'telemetry',
        false,
      );
    }
    if (decision) {
      if (decision.kind === 'anomaly') this.episodeId = uuidv7();
      this.publishEvent(decision.kind, decision.severity, score, window);
      if (decision.kind === 'clear') this.episodeId = undefined;
    }
    this.deps.afterWindow?.();
  }

  private publishEvent(
    kind: EventMessage['kind'],
    severity: EventMessage['severity'],
    scored: Scored['score'],
    window: Scored['window'],
  ): void {
    const envelope = this.deps.envelopes.next();
    const event: EventMessage = {
      ...envelope,
      kind,
      episodeId: this.episodeId!,
      asset: this.asset,
      score: scored.score,
      threshold: scored.threshold,
      severity,
      model: { id: this.detector.modelId, version: this.detector.modelVersion },
      contributions: scored.contributions,
      windowStart: Math.max(0, Math.floor(window.start)),
      windowEnd: Math.max(0, Math.floor(window.end)),
    };
    const spectrum = kind === 'anomaly' ? this.pipeline.spectrumSnapshot() : undefined;
    if (spectrum) event.spectrum = spectrum;
    const msg = encode('event', event);
    this.events += 1;
    this.deps.logger.info(
      { kind, severity, score: scored.score, eventId: envelope.id, why: scored.contributions[0]?.feature },
      'event',
    );
    this.send(msg, 'event', false);
    const observer = this.deps.observer;
    if (observer) this.observe(() => observer.event(event));
  }

  private send(msg: { topic: string; payload: Buffer }, priority: Priority, retain: boolean): void {
    this.deps.outbox.send({ topic: msg.topic, payload: msg.payload, qos: 1, retain, priority });
  }
}
