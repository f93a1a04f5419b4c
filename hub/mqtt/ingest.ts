import type { Logger } from '../../config/logger.js';
import { decodeOrThrow, type Decoded } from '../../protocol/codec.js';
import { deviceKey } from '../../protocol/device.js';
import { PdmError, type ErrorCode } from '../../protocol/errors.js';
import type { EventMessage, ModelAckMessage, StatusMessage, TelemetryMessage } from '../../protocol/messages.js';
import type { Channel } from '../../protocol/topics.js';
import { printableDetail } from '../auth/log-safe.js';
import { deviceAfterStatus } from '../inspections/devices.js';
import type { IncidentOutcome } from '../inspections/incidents.js';
import { RoutingPolicies, type RoutingConfig } from '../inspections/routing.js';
import type { HubStore } from '../store/store.js';
import type { DeviceViews } from '../views/fleet-views.js';

export interface IngestStats {
  accepted: Partial<Record<Channel, number>>;
  rejected: Partial<Record<ErrorCode, number>>;
  duplicates: number;
}

/** Told once per message given to `handleThen`: null once it may be acknowledged, or why it must not be. */
export type IngestDone = (error: Error | null) => void;

export interface IngestOptions {
  store: Pick<HubStore, 'recordEvent' | 'recordLater' | 'decidesInBatches' | 'commit' | 'device' | 'putDevice'>;
  routing: RoutingConfig;
  maxPayloadBytes: number;
  logger: Logger;
  now?: () => number;
  /** Every incident change once it is durable: the workflow starts here. */
  onIncident?: (outcome: IncidentOutcome) => void;
  /** How long each accepted message took from arrival to durable commit. */
  onHandled?: (channel: Channel, seconds: number) => void;
  /** What must happen once per message besides the store. */
  record?: IngestRecord;
  /**
   * This process's in-memory views of what this path takes: status that changed a device's record, accepted
   * telemetry, every valid event as it is applied (views/fleet-views.ts `viewsOfIngest`).
   */
  views?: Partial<DeviceViews>;
}

/** The parts of a message's handling that must happen once among the fleet's hubs (the leader's, in shared mode). */
export interface IngestRecord {
  /** Every accepted telemetry message: the telemetry log, a canary rollout's evidence. */
  telemetry?: (msg: TelemetryMessage) => void;
  /** Every valid model ack; awaited, so a rollout step is stored before the PUBACK. */
  modelAck?: (msg: ModelAckMessage) => Promise<void> | void;
}

/**
 * The events waiting for one store commit, in arrival order, as parallel arrays: a fleet's burst waits here, and one
 * callback on the commit settles them all (no promise or closure per event).
 */
interface CommitWaiters {
  readonly commit: Promise<unknown>;
  readonly outcomes: IncidentOutcome[];
  readonly eventIds: string[];
  readonly started: number[];
  readonly done: IngestDone[];
}

type Handler<C extends Channel> = (msg: Extract<Decoded, { channel: C }>['message']) => Promise<void> | void;

const ignore = (): void => undefined;

/**
 * Validates every device message and applies it, one handler per channel: records it (the store, `record`), then
 * feeds the views given. Bad input is counted and dropped; only a store that cannot be written withholds an
 * acknowledgement.
 */
export class Ingest {
  readonly stats: IngestStats = { accepted: {}, rejected: {}, duplicates: 0 };
  private readonly policies: RoutingPolicies;
  private readonly now: () => number;
  private readonly onIncident: (outcome: IncidentOutcome) => void;
  private readonly onHandled: (channel: Channel, seconds: number) => void;
  /** The events waiting for the commit the store has scheduled now, if any. */
  private waiting: CommitWaiters | undefined;

  /** Events are not here: `onEvent` settles them in batches, one per commit. */
  private readonly handlers: { [C in Exclude<Channel, 'event'>]?: Handler<C> };

  constructor(private readonly opts: IngestOptions) {
    this.policies = new RoutingPolicies(opts.routing);
    this.now = opts.now ?? Date.now;
    this.onIncident = opts.onIncident ?? ignore;
    this.onHandled = opts.onHandled ?? ignore;
    const { record, views } = opts;
    this.handlers = {
      status: (msg) => this.onStatus(msg),
      telemetry: (msg) => {
        record?.telemetry?.(msg);
        views?.telemetry?.(msg);
      },
      health: ignore,
      'model/ack': (msg) => record?.modelAck?.(msg),
    };
  }

  reject(code: ErrorCode, detail: Record<string, unknown>): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    // Topics, client ids and reasons come from the wire: printable and short in the log, whatever was sent.
    this.opts.logger.warn({ code, ...printableDetail(detail) }, 'message rejected');
  }

  /** `handleThen` as a promise: resolves once the message may be acknowledged. */
  handle(topic: string, payload: Buffer, clientId?: string): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.handleThen(topic, payload, clientId, (error) => (error ? reject(error) : resolve())),
    );
  }

  /**
   * Decodes and applies one message now and calls `done` once, when it may be acknowledged. What waits for the
   * commit is only the outcome, the event id and the start time: a fleet's worth of payloads is not held meanwhile.
   */
  handleThen(topic: string, payload: Buffer, clientId: string | undefined, done: IngestDone): void {
    const started = performance.now();
    let decoded: Decoded;
    try {
      decoded = decodeOrThrow(topic, payload, this.opts.maxPayloadBytes);
    } catch (error) {
      if (!(error instanceof PdmError)) return done(error as Error);
      this.reject(error.code, { topic, clientId, reason: error.message });
      return done(null);
    }
    const { channel, message } = decoded;
    if (decoded.dropped)
      this.opts.logger.warn(
        printableDetail({ topic, clientId, reason: decoded.dropped }),
        'part of a message left out',
      );
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

  /** Applies the event now (synchronously, so two events cannot both open an inspection); settles it after the commit. */
  private onEvent(event: EventMessage, started: number, done: IngestDone): void {
    this.opts.views?.event?.(event);
    const rules = { windowMs: this.policies.windowMs, policy: this.policies.for(event.site) };
    if (this.opts.store.decidesInBatches) {
      // Several hub processes: decided with the other events of this turn, in one transaction under row locks.
      const one = (outcome: IncidentOutcome) => ({
        commit,
        outcomes: [outcome],
        eventIds: [event.id],
        started: [started],
        done: [done],
      });
      const commit = this.opts.store.recordLater(event, this.now(), rules);
      commit.then(
        (outcome) => this.settle(one(outcome), null),
        (error: Error) => done(error),
      );
      return;
    }
    const outcome = this.opts.store.recordEvent(event, this.now(), rules);
    // Even a duplicate waits for the write: a redelivery may overtake the first copy's commit.
    const commit = this.opts.store.commit();
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
    const { logger } = this.opts;
    if (outcome.kind === 'opened' || outcome.kind === 'promoted') {
      const { inspection } = outcome;
      logger.info(
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
      logger.info({ watch: outcome.watch.id, asset: outcome.watch.asset, eventId }, outcome.kind);
    }
    this.onIncident(outcome);
  }

  private async onStatus(status: StatusMessage): Promise<void> {
    const { store } = this.opts;
    const previous = store.device(status);
    const record = deviceAfterStatus(previous, status);
    if (!record) return;
    store.putDevice(record);
    this.opts.views?.status?.(status);
    if (previous?.state !== status.state)
      this.opts.logger.info({ device: deviceKey(status), state: status.state }, 'device status');
    await store.commit();
  }
}
