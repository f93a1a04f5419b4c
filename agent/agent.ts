import type { AgentConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { encode } from '../protocol/codec.js';
import type { EnvelopeFactory } from '../protocol/envelope.js';
import type { EventMessage } from '../protocol/messages.js';
import type { SampleSource } from '../protocol/samples.js';
import { PdmError } from '../protocol/errors.js';
import { uuidv7 } from '../protocol/uuid.js';
import { BaselineDetector, type BaselineState } from './baseline.js';
import { RmsThresholdDetector, type Detector } from './detector.js';
import { HealthReporter } from './health.js';
import type { ModelRuntime } from '../models/runtime.js';
import { OnnxDetector, type AsyncDetector } from './onnx-detector.js';
import type { DeviceLink } from './link.js';
import type { Outbox } from './outbox/outbox.js';
import type { Priority } from './outbox/types.js';
import { Pipeline, type Scored } from './pipeline.js';
import type { SensorState } from './sensor-health.js';
import type { SampleFaults } from './windowing.js';

export const AGENT_VERSION = '0.2.0';

export interface AgentDeps {
  source: SampleSource;
  link: DeviceLink;
  /** Everything that must reach the hub goes through the durable outbox; only periodic health goes straight to the link. */
  outbox: Outbox;
  envelopes: EnvelopeFactory;
  logger: Logger;
  /** Where the baseline detector keeps what it learnt during commissioning. */
  baseline?: { load(): BaselineState | undefined; save(state: BaselineState): void };
  /** Running speed when the config does not say (the simulator knows its machine's). */
  rpm?: number;
  /** detector.kind onnx: the model to score with (model sync's hot-swappable one, or a fixed session). */
  model?: ModelRuntime;
  /** Called after each scored window has been handed on (the composition root's heap trimming, agent/heap-trim.ts). */
  afterWindow?: () => void;
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

export function pipelineConfig(cfg: AgentConfig, rpm?: number) {
  const hop = cfg.window.hopSeconds ?? cfg.window.seconds;
  const speed = cfg.machine.rpm ?? rpm;
  return {
    channels: cfg.channels.map((c) => ({
      channel: c.name,
      windowSeconds: c.windowSeconds ?? cfg.window.seconds,
      hopSeconds: c.hopSeconds ?? c.windowSeconds ?? hop,
      ...(c.min !== undefined ? { min: c.min } : {}),
      ...(c.max !== undefined ? { max: c.max } : {}),
      spectrum: c.spectrum,
      bands: c.bands.map((b) => ({ ...b })),
    })),
    primary: cfg.detector.channel,
    ...(speed ? { rpm: speed } : {}),
    ...(cfg.machine.bearing ? { bearing: { ...cfg.machine.bearing } } : {}),
    bearingBandWidth: cfg.machine.bearingBandWidth,
    sensorHealth: { ...cfg.sensorHealth },
    decision: { ...cfg.decision, threshold: cfg.detector.threshold, criticalRatio: cfg.detector.criticalRatio },
    queueLimit: cfg.detector.queueLimit,
  };
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
    private readonly detector: Detector | AsyncDetector,
    private readonly deps: AgentDeps,
  ) {
    this.asset = cfg.asset ?? cfg.device;
    this.pipeline = new Pipeline(pipelineConfig(cfg, deps.rpm), detector, {
      onScored: (result) => this.onScored(result),
      onSensorChange: (channel, state, faults) => this.onSensorChange(channel, state, faults),
      onScoreError: (error, windows) =>
        deps.logger.warn(
          { err: error.message, windows, model: detector.modelVersion },
          'model could not score; windows skipped',
        ),
    });
    this.health = new HealthReporter({
      latency: this.pipeline.latency,
      outboxDepth: () => deps.outbox.depth,
      sensors: () => this.pipeline.faults(),
    });
  }

  /** Builds the detector (restoring a commissioned baseline) before returning, so a started agent can score at once. */
  static async create(cfg: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const d = cfg.detector;
    if (d.kind === 'onnx') {
      if (!deps.model)
        throw new PdmError(
          'PDM_ERR_CONFIG_INVALID',
          'detector.kind onnx needs a model; the composition root loads detector.card',
        );
      return new Agent(cfg, new OnnxDetector(deps.model, d.channel, d.topContributions), deps);
    }
    const detector: Detector =
      d.kind === 'baseline'
        ? new BaselineDetector(
            {
              commissioningWindows: d.commissioningWindows,
              threshold: d.threshold,
              stdFloorRatio: d.stdFloorRatio,
              topContributions: d.topContributions,
            },
            (state) => {
              deps.baseline?.save(state);
              deps.logger.info(
                { windows: state.count, features: state.names.length },
                'commissioning done; baseline saved',
              );
            },
            deps.baseline?.load(),
          )
        : new RmsThresholdDetector(d.channel, d.threshold);
    return new Agent(cfg, detector, deps);
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
    if (!this.deps.link.connected) return;
    const msg = encode('health', this.health.build(this.deps.envelopes.next()));
    this.deps.link.publish(msg.topic, msg.payload, { qos: 0 }).catch(() => undefined);
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
    const msg = encode('event', {
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
    });
    this.events += 1;
    this.deps.logger.info(
      { kind, severity, score: scored.score, eventId: envelope.id, why: scored.contributions[0]?.feature },
      'event',
    );
    this.send(msg, 'event', false);
  }

  private send(msg: { topic: string; payload: Buffer }, priority: Priority, retain: boolean): void {
    this.deps.outbox.send({ topic: msg.topic, payload: msg.payload, qos: 1, retain, priority });
  }
}
