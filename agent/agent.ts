import type { AgentConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { encode } from '../protocol/codec.js';
import type { EnvelopeFactory } from '../protocol/envelope.js';
import type { EventMessage } from '../protocol/messages.js';
import type { SampleSource } from '../protocol/samples.js';
import { uuidv7 } from '../protocol/uuid.js';
import { EpisodeDecider } from './decision.js';
import { RmsThresholdDetector, type Detector, type Score } from './detector.js';
import type { DeviceLink } from './link.js';
import type { Outbox } from './outbox/outbox.js';
import type { Priority } from './outbox/types.js';
import { Windower, type Window } from './windowing.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  source: SampleSource;
  link: DeviceLink;
  /** Everything that must reach the hub goes through the durable outbox; only health goes straight to the link. */
  outbox: Outbox;
  envelopes: EnvelopeFactory;
  logger: Logger;
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

/**
 * source → windows → features → detector → decision → link. The composition root builds the parts; this class
 * only wires them.
 */
export class Agent {
  readonly stats: AgentStats = { windows: 0, events: 0, badSamples: 0 };
  private readonly windower: Windower;
  private readonly decider: EpisodeDecider;
  private readonly asset: string;
  private episodeId: string | undefined;
  private running = false;

  private constructor(
    private readonly cfg: AgentConfig,
    private readonly detector: Detector,
    private readonly deps: AgentDeps,
  ) {
    this.asset = cfg.asset ?? cfg.device;
    this.windower = new Windower(cfg.detector.channel, cfg.window.seconds, (w) => this.onWindow(w));
    this.decider = new EpisodeDecider({ ...cfg.decision, ...cfg.detector });
  }

  /** Builds the detector before returning, so a started agent can score its first window. */
  static async create(cfg: AgentConfig, deps: AgentDeps): Promise<Agent> {
    const detector = new RmsThresholdDetector(cfg.detector.channel, cfg.detector.threshold);
    return new Agent(cfg, detector, deps);
  }

  async start(): Promise<void> {
    this.running = true;
    this.sendStatus('online');
    // The broker may have published our Will while we were away: say we are back after every reconnect.
    this.deps.link.onConnectionChange((up) => {
      if (up && this.running) this.sendStatus('online');
    });
    await this.deps.source.start((block) => {
      if (this.running) this.windower.push(block);
    });
    this.deps.logger.info({ source: this.deps.source.name, device: this.cfg.device }, 'agent started');
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.deps.source.stop();
    // A clean stop says offline itself; the broker only sends the Will when the agent vanishes. If the hub is
    // unreachable it stays in the outbox and goes out, in order, at the next start.
    this.sendStatus('offline');
    await this.deps.outbox.flush();
  }

  private sendStatus(state: 'online' | 'offline'): void {
    this.send(statusMessage(this.deps.envelopes, state, this.detector.modelVersion), 'status', true);
  }

  private onWindow(window: Window): void {
    this.stats.windows += 1;
    this.stats.badSamples = this.windower.badSamples;
    const scored = this.detector.score(window.samples);
    if (this.cfg.telemetry.enabled) {
      const msg = encode('telemetry', {
        ...this.deps.envelopes.next(),
        windowStart: Math.floor(window.start),
        windowEnd: Math.floor(window.end),
        features: scored.features,
        score: scored.score,
        threshold: scored.threshold,
      });
      this.send(msg, 'telemetry', false);
    }
    const decision = this.decider.next(scored.score);
    if (!decision) return;
    if (decision.kind === 'anomaly') this.episodeId = uuidv7();
    this.publishEvent(decision.kind, decision.severity, scored, window);
    if (decision.kind === 'clear') this.episodeId = undefined;
  }

  private publishEvent(kind: EventMessage['kind'], severity: EventMessage['severity'], scored: Score, window: Window): void {
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
      windowStart: Math.floor(window.start),
      windowEnd: Math.floor(window.end),
    });
    this.stats.events += 1;
    this.deps.logger.info({ kind, severity, score: scored.score, eventId: envelope.id }, 'event');
    this.send(msg, 'event', false);
  }

  private send(msg: { topic: string; payload: Buffer }, priority: Priority, retain: boolean): void {
    this.deps.outbox.send({ topic: msg.topic, payload: msg.payload, qos: 1, retain, priority });
  }
}
