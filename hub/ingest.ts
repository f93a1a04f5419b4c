import type { Logger } from '../config/logger.js';
import { decode, type Decoded } from '../protocol/codec.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { EventMessage, ModelAckMessage, StatusMessage, TelemetryMessage } from '../protocol/messages.js';
import type { Channel } from '../protocol/topics.js';
import { applyEvent, type ApplyOptions, type IncidentOutcome } from './incidents.js';
import { policyFor, type RoutingConfig } from './routing.js';
import { deviceKey, type DeviceRecord } from './store/state.js';
import type { HubStore } from './store/store.js';

export interface IngestStats {
  accepted: Partial<Record<Channel, number>>;
  rejected: Partial<Record<ErrorCode, number>>;
  duplicates: number;
}

export interface LiveDeviceView {
  lastScore?: number;
  lastThreshold?: number;
  lastTelemetryAt?: number;
}

/** What `handle` returns when nothing waits for a commit. */
const DONE: Promise<void> = Promise.resolve();

type Handler<C extends Channel> = (msg: Extract<Decoded, { channel: C }>['message']) => Promise<void> | void;

/**
 * Validates every device message and applies it, one handler per channel (DESIGN convention 4). `handle` resolves
 * once anything it changed is durably stored, and only then may the broker acknowledge the message. Bad input is
 * counted by error code and dropped; it never throws for bad input, only when the store cannot be written.
 */
export class Ingest {
  readonly stats: IngestStats = { accepted: {}, rejected: {}, duplicates: 0 };
  readonly live = new Map<string, LiveDeviceView>();
  /** Told how long each accepted message took from arrival to durable commit (metrics hang here). */
  onHandled: (channel: Channel, seconds: number) => void = () => undefined;
  /** Told about every accepted telemetry message (the dashboard's score history hangs here). */
  onTelemetry: (msg: TelemetryMessage) => void = () => undefined;
  /** Told about every valid model ack (the registry's rollouts hang here); awaited, so a step is stored before the PUBACK. */
  onModelAck: (msg: ModelAckMessage) => Promise<void> | void = () => undefined;

  private readonly handlers: { [C in Channel]?: Handler<C> } = {
    event: (msg) => this.onEvent(msg),
    status: (msg) => this.onStatus(msg),
    telemetry: (msg) => {
      const view = this.liveView(msg.site, msg.device);
      view.lastScore = msg.score;
      view.lastThreshold = msg.threshold;
      view.lastTelemetryAt = msg.ts;
      this.onTelemetry(msg);
    },
    health: () => undefined,
    'model/ack': (msg) => this.onModelAck(msg),
  };

  constructor(
    private readonly store: HubStore,
    private readonly logger: Logger,
    private readonly maxPayloadBytes: number,
    private readonly routing: RoutingConfig,
    private readonly now: () => number = Date.now,
    /** Told about every incident change once it is durable (activities such as the CMMS webhook hang here). */
    private readonly onIncident: (outcome: IncidentOutcome) => void = () => undefined,
  ) {}

  reject(code: ErrorCode, detail: Record<string, unknown>): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    this.logger.warn({ code, ...detail }, 'message rejected');
  }

  /**
   * Not an async function on purpose: the decoding and the handler's synchronous part run now, and what waits for
   * the commit is only the channel and the start time, not the payload or the parsed message (with a fleet's
   * worth of messages waiting for one fsync, that is what the garbage collector would otherwise carry along).
   */
  handle(topic: string, payload: Buffer, clientId?: string): Promise<void> {
    try {
      const started = performance.now();
      const result = decode(topic, payload, this.maxPayloadBytes);
      if (!result.ok) {
        this.reject(result.error.code, { topic, clientId, reason: result.error.message });
        return DONE;
      }
      const { channel, message } = result.value;
      const handler = this.handlers[channel] as Handler<Channel> | undefined;
      if (!handler) {
        this.reject('PDM_ERR_NOT_AUTHORIZED', { topic, clientId, reason: `devices do not publish on ${channel}` });
        return DONE;
      }
      const pending = handler(message as never);
      if (typeof pending?.then !== 'function') {
        this.accepted(channel, started);
        return DONE;
      }
      return pending!.then(() => this.accepted(channel, started));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private accepted(channel: Channel, started: number): void {
    this.stats.accepted[channel] = (this.stats.accepted[channel] ?? 0) + 1;
    this.onHandled(channel, (performance.now() - started) / 1000);
  }

  private liveView(site: string, device: string): LiveDeviceView {
    const key = deviceKey(site, device);
    let view = this.live.get(key);
    if (!view) this.live.set(key, (view = {}));
    return view;
  }

  /** Per site: the routing config is fixed for the hub's life, so each site's policy is merged once. */
  private readonly policies = new Map<string, ApplyOptions>();

  private applyOptions(site: string): ApplyOptions {
    let opts = this.policies.get(site);
    if (!opts) {
      opts = { windowMs: this.routing.correlationWindowSeconds * 1000, policy: policyFor(this.routing, site), changes: this.store };
      if (this.policies.size >= 1024) this.policies.clear(); // a hub serves a few sites; never let the memo grow unbounded
      this.policies.set(site, opts);
    }
    opts.dedupSince = this.store.dedupSince();
    return opts;
  }

  private onEvent(event: EventMessage): Promise<void> {
    const outcome = applyEvent(this.store.state, event, this.now(), this.applyOptions(event.site));
    // Only the outcome and the id wait for the commit, not the whole parsed event.
    return this.afterEvent(outcome, event.id);
  }

  private async afterEvent(outcome: IncidentOutcome, eventId: string): Promise<void> {
    // Even a duplicate waits for the write: a redelivery may overtake the first copy's commit.
    await this.store.commit();
    if (outcome.kind === 'duplicate') {
      this.stats.duplicates += 1;
      return;
    }
    if (outcome.kind === 'opened' || outcome.kind === 'promoted') {
      const { inspection } = outcome;
      this.logger.info(
        { inspection: inspection.id, asset: inspection.asset, severity: inspection.severity, eventId, via: outcome.kind },
        'inspection opened',
      );
    } else if (outcome.kind === 'watch-opened' || outcome.kind === 'watch-cleared') {
      this.logger.info({ watch: outcome.watch.id, asset: outcome.watch.asset, eventId }, outcome.kind);
    }
    this.onIncident(outcome);
  }

  private async onStatus(status: StatusMessage): Promise<void> {
    const key = deviceKey(status.site, status.device);
    const previous = this.store.state.devices[key];
    // An old boot's Will must not mark a device offline that has since come back with a new boot.
    if (previous && previous.bootId !== status.bootId && status.state === 'offline' && previous.lastSeen > status.ts) {
      return;
    }
    const record: DeviceRecord = {
      site: status.site,
      device: status.device,
      state: status.state,
      agentVersion: status.agentVersion,
      bootId: status.bootId,
      lastSeen: status.ts,
      ...(status.modelVersion ? { modelVersion: status.modelVersion } : {}),
    };
    this.store.state.devices[key] = record;
    this.store.touch('device', key);
    if (previous?.state !== status.state) this.logger.info({ device: key, state: status.state }, 'device status');
    await this.store.commit();
  }
}
