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
import { Windower, type Window } from './windowing.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  source: SampleSource;
  link: DeviceLink;
  envelopes: EnvelopeFactory;
  logger: Logger;
}

export interface AgentStats {
  windows: number;
  events: number;
  badSamples: number;
  publishFailures: number;
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
  readonly stats: AgentStats = { windows: 0, events: 0, badSamples: 0, publishFailures: 0 };
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
    const birth = statusMessage(this.deps.envelopes, 'online', this.detector.modelVersion);
    this.send(birth, 1, true);
    await this.deps.source.start((block) => {
      if (this.running) this.windower.push(block);
    });
    this.deps.logger.info({ source: this.deps.source.name, device: this.cfg.device }, 'agent started');
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.deps.source.stop();
    const offline = statusMessage(this.deps.envelopes, 'offline', this.detector.modelVersion);
    // A clean stop says offline itself; the broker only sends the Will when the agent vanishes.
    const sent = this.deps.link.publish(offline.topic, offline.payload, { qos: 1, retain: true }).catch(() => undefined);
    await Promise.race([sent, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
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
      this.send(msg, 0, false);
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
    this.send(msg, 1, false);
  }

  private send(msg: { topic: string; payload: Buffer }, qos: 0 | 1, retain: boolean): void {
    this.deps.link.publish(msg.topic, msg.payload, { qos, retain }).catch((error: Error) => {
      this.stats.publishFailures += 1;
      this.deps.logger.warn({ err: error.message, topic: msg.topic }, 'publish failed');
    });
  }
}
