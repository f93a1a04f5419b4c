import { deviceKey } from '../../protocol/device.js';
import type { Logger } from '../../config/logger.js';
import { decodeOrThrow, type Decoded } from '../../protocol/codec.js';
import { PdmError, type ErrorCode } from '../../protocol/errors.js';
import type { EventMessage, ModelAckMessage, StatusMessage, TelemetryMessage } from '../../protocol/messages.js';
import type { Channel } from '../../protocol/topics.js';
import { applyEvent, type ApplyOptions, type IncidentOutcome } from '../inspections/incidents.js';
import { policyFor, type RoutingConfig } from '../inspections/routing.js';
import type { DeviceRecord } from '../store/state.js';
import type { HubStore } from '../store/store.js';

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

/** Told once per message given to `handleThen`: null once it may be acknowledged, or why it must not be. */
export type IngestDone = (error: Error | null) => void;

/**
 * The events waiting for one store commit, in arrival order, as parallel arrays: a fleet's burst waits here, and one
 * callback on the commit settles them all (no promise or closure per event).
 */
interface CommitWaiters {
  readonly commit: Promise<void>;
  readonly outcomes: IncidentOutcome[];
  readonly eventIds: string[];
  readonly started: number[];
  readonly done: IngestDone[];
}

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

  /** Events are not here: `onEvent` settles them in batches, one per commit. */
  private readonly handlers: { [C in Exclude<Channel, 'event'>]?: Handler<C> } = {
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
   * Resolves once the message may be acknowledged (anything it changed is durable); rejects only when the store
   * cannot be written. `handleThen` with a promise around it.
   */
  handle(topic: string, payload: Buffer, clientId?: string): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.handleThen(topic, payload, clientId, (error) => (error ? reject(error) : resolve())),
    );
  }

  /**
   * Decodes and applies one message now and calls `done` once, when it may be acknowledged. The decoding and the
   * handler's synchronous part run now; what waits for the commit is only the outcome, the event id and the start
   * time, not the payload or the parsed message (with a fleet's worth of messages waiting for one fsync, that is
   * what the garbage collector would otherwise carry along). Bad input is counted, logged and acknowledged (it is
   * dropped, not retried); only a store that cannot be written withholds the acknowledgement.
   */
  handleThen(topic: string, payload: Buffer, clientId: string | undefined, done: IngestDone): void {
    const started = performance.now();
    let decoded: Decoded;
    try {
      decoded = decodeOrThrow(topic, payload, this.maxPayloadBytes);
    } catch (error) {
      if (!(error instanceof PdmError)) return done(error as Error);
      this.reject(error.code, { topic, clientId, reason: error.message });
      return done(null);
    }
    const { channel, message } = decoded;
    if (channel === 'event') {
      try {
        this.onEvent(message, started, done);
      } catch (error) {
        done(error as Error);
      }
      return;
    }
    const handler = this.handlers[channel] as Handler<Channel> | undefined;
    if (!handler) {
      this.reject('PDM_ERR_NOT_AUTHORIZED', { topic, clientId, reason: `devices do not publish on ${channel}` });
      return done(null);
    }
    let pending: Promise<void> | void;
    try {
      pending = handler(message as never);
    } catch (error) {
      return done(error as Error);
    }
    if (typeof pending?.then !== 'function') {
      this.accepted(channel, started);
      return done(null);
    }
    pending.then(() => {
      this.accepted(channel, started);
      done(null);
    }, done);
  }

  private accepted(channel: Channel, started: number): void {
    this.stats.accepted[channel] = (this.stats.accepted[channel] ?? 0) + 1;
    this.onHandled(channel, (performance.now() - started) / 1000);
  }

  private liveView(site: string, device: string): LiveDeviceView {
    const key = deviceKey({ site, device });
    let view = this.live.get(key);
    if (!view) this.live.set(key, (view = {}));
    return view;
  }

  /** Per site: the routing config is fixed for the hub's life, so each site's policy is merged once. */
  private readonly policies = new Map<string, ApplyOptions>();

  private applyOptions(site: string): ApplyOptions {
    let opts = this.policies.get(site);
    if (!opts) {
      opts = {
        windowMs: this.routing.correlationWindowSeconds * 1000,
        policy: policyFor(this.routing, site),
        changes: this.store,
      };
      if (this.policies.size >= 1024) this.policies.clear(); // a hub serves a few sites; never let the memo grow unbounded
      this.policies.set(site, opts);
    }
    opts.dedupSince = this.store.dedupSince();
    return opts;
  }

  /** The events waiting for the commit the store has scheduled now, if any. */
  private waiting: CommitWaiters | undefined;

  /** Applies the event now (synchronously, so two events cannot both open an inspection); settles it after the commit. */
  private onEvent(event: EventMessage, started: number, done: IngestDone): void {
    const outcome = applyEvent(this.store.state, event, this.now(), this.applyOptions(event.site));
    // Even a duplicate waits for the write: a redelivery may overtake the first copy's commit.
    const commit = this.store.commit();
    let waiters = this.waiting;
    if (waiters === undefined || waiters.commit !== commit) {
      const batch: CommitWaiters = { commit, outcomes: [], eventIds: [], started: [], done: [] };
      this.waiting = waiters = batch;
      commit.then(
        () => this.settle(batch, null),
        (error: Error) => this.settle(batch, error),
      );
    }
    waiters.outcomes.push(outcome);
    waiters.eventIds.push(event.id);
    waiters.started.push(started);
    waiters.done.push(done);
  }

  /**
   * One commit's events, in arrival order: each is counted, logged and told to its waiter, or told the write failed.
   * A waiter that throws does not keep the others waiting; the first such error surfaces once all are told.
   */
  private settle(batch: CommitWaiters, error: Error | null): void {
    if (this.waiting === batch) this.waiting = undefined;
    let thrown: unknown;
    for (let i = 0; i < batch.done.length; i++) {
      let verdict = error;
      if (verdict === null) {
        try {
          this.afterEvent(batch.outcomes[i]!, batch.eventIds[i]!);
          this.accepted('event', batch.started[i]!);
        } catch (failure) {
          verdict = failure as Error;
        }
      }
      try {
        batch.done[i]!(verdict);
      } catch (failure) {
        thrown ??= failure;
      }
    }
    if (thrown !== undefined) throw thrown;
  }

  private afterEvent(outcome: IncidentOutcome, eventId: string): void {
    if (outcome.kind === 'duplicate') {
      this.stats.duplicates += 1;
      return;
    }
    if (outcome.kind === 'opened' || outcome.kind === 'promoted') {
      const { inspection } = outcome;
      this.logger.info(
        {
          inspection: inspection.id,
          asset: inspection.asset,
          severity: inspection.severity,
          eventId,
          via: outcome.kind,
        },
        'inspection opened',
      );
    } else if (outcome.kind === 'watch-opened' || outcome.kind === 'watch-cleared') {
      this.logger.info({ watch: outcome.watch.id, asset: outcome.watch.asset, eventId }, outcome.kind);
    }
    this.onIncident(outcome);
  }

  private async onStatus(status: StatusMessage): Promise<void> {
    const key = deviceKey(status);
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
