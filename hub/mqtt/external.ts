import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { DEVICE_CHANNELS, TOPIC_ROOT } from '../../protocol/topics.js';
import type { DeviceMessageSink, HubBroker } from './broker.js';
import { VIEW_CHANNELS, type ViewSink } from './view-sink.js';

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  connectTimeoutMs: number;
  /** Connections sharing the event topics (at least 1). */
  eventConnections: number;
  /**
   * Several hub processes (`cluster.mode: shared`): this process's name. Its event sessions are then
   * `<clientId>-<instance>-e<n>` in the one share group, and the ordered session (`<clientId>`, one for all processes)
   * connects only through `ordered.start()`, the leader's duty, so a new leader resumes what the last one left queued.
   */
  instance?: string | undefined;
  /** Shared mode: what the view session (`<clientId>-<instance>-view`) hears goes here, to this process's views. */
  views?: Pick<ViewSink, 'handle'> | undefined;
}

/** The external broker's client, and in shared mode the ordered session the leader connects and disconnects. */
export interface ExternalBroker extends HubBroker {
  ordered?: { start(): Promise<void>; stop(): Promise<void> } | undefined;
}

/**
 * What one connection subscribes to; `drop`: filters an older version of the hub left in its persistent session.
 * `view`: a clean session at QoS 0 that feeds only this process's views (a lost sample is harmless, nothing is stored).
 */
interface Subscriber {
  clientId: string;
  topics: string[];
  drop: string[];
  qos: 0 | 1;
  view: boolean;
}

/**
 * The hub's sessions: one for every channel but events, in the order each device sent them (status, telemetry, acks),
 * and `eventConnections` that share the events, so their commits group as a fleet's do on the embedded broker. With
 * several processes (`instance`), also each process's view session: every status and telemetry, outside the share
 * group, since the ordered session is the leader's alone.
 */
export function subscribers(clientId: string, eventConnections: number, instance?: string): Subscriber[] {
  const ordered = DEVICE_CHANNELS.filter((c) => c !== 'event').map((c) => `${TOPIC_ROOT}/+/+/${c}`);
  const events = `$share/${clientId}/${TOPIC_ROOT}/+/+/event`;
  const eventPrefix = instance === undefined ? clientId : `${clientId}-${instance}`;
  const durable = { qos: 1, view: false } as const;
  const sessions: Subscriber[] = [
    { clientId, topics: ordered, drop: [`${TOPIC_ROOT}/+/+/#`], ...durable },
    ...Array.from({ length: eventConnections }, (_, i) => ({
      clientId: `${eventPrefix}-e${i}`,
      topics: [events],
      drop: [],
      ...durable,
    })),
  ];
  if (instance !== undefined) {
    const topics = VIEW_CHANNELS.map((c) => `${TOPIC_ROOT}/+/+/${c}`);
    sessions.push({ clientId: `${eventPrefix}-view`, topics, drop: [], qos: 0, view: true });
  }
  return sessions;
}

/**
 * External mode: the hub is a client of the plant's broker, which authenticates devices; persistent sessions keep
 * messages while the hub is down, and the hub acknowledges each only once it is durable.
 */
export function createExternalBroker(
  opts: ExternalBrokerOptions & { ingest: Pick<DeviceMessageSink, 'handleThen'>; logger: Logger },
): ExternalBroker {
  const { ingest, logger } = opts;
  const shared = opts.instance !== undefined;
  const connect = ({ clientId, view }: Subscriber): MqttClient => {
    // Not connected until start(); what the hub publishes before that waits in mqtt.js' offline queue.
    const client = mqtt.connect(opts.url, {
      clientId,
      protocolVersion: 4,
      clean: view,
      reconnectPeriod: 1000,
      connectTimeout: opts.connectTimeoutMs,
      manualConnect: true,
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
    });
    // mqtt.js' documented hook for acknowledging a message only once it is handled (it reads the next one after).
    client.handleMessage = view
      ? (packet, done) => {
          try {
            opts.views?.handle(packet.topic, packet.payload as Buffer);
          } catch (error) {
            logger.error({ err: (error as Error).message, topic: packet.topic }, 'a view failed on a message');
          }
          done();
        }
      : (packet, done) => {
          ingest.handleThen(packet.topic, packet.payload as Buffer, undefined, (error) => {
            if (!error) return done();
            // No PUBACK: the broker redelivers once the hub reconnects.
            logger.error({ err: error.message, topic: packet.topic }, 'could not store message; withholding PUBACK');
            client.end(true, () => client.reconnect());
          });
        };
    client.on('error', (error) => logger.warn({ err: error.message, clientId }, 'external broker error'));
    client.on('offline', () => logger.warn({ url: opts.url, clientId }, 'external broker unreachable; retrying'));
    return client;
  };
  const [orderedSubscriber, ...others] = subscribers(opts.clientId, opts.eventConnections, opts.instance);
  // Every process's own sessions: its event sessions, and in shared mode its view session.
  const own = others.map((s) => ({ ...s, client: connect(s) }));
  // Shared mode: a client per leadership term, made when this process starts leading.
  let ordered = shared ? undefined : { ...orderedSubscriber!, client: connect(orderedSubscriber!) };
  const sessions = () => (ordered ? [ordered, ...own] : own);
  // The hub publishes through a session every process holds: in shared mode, the first event session.
  const main = (shared ? own[0]! : ordered!).client;

  const start = (session: (typeof own)[number]) =>
    new Promise<void>((resolve, reject) => {
      const { client } = session;
      const timer = setTimeout(() => {
        client.end(true);
        reject(
          new PdmError(
            'PDM_ERR_BROKER_UNREACHABLE',
            `${opts.url} did not accept the hub within ${opts.connectTimeoutMs} ms`,
          ),
        );
      }, opts.connectTimeoutMs);
      client.once('connect', (connack) => {
        clearTimeout(timer);
        // A resumed session already has the subscriptions; subscribing again is harmless and covers a fresh one.
        const subscribed = async () => {
          if (connack.sessionPresent && session.drop.length) await client.unsubscribeAsync(session.drop);
          await client.subscribeAsync(session.topics, { qos: session.qos });
        };
        subscribed().then(
          () => {
            logger.info(
              { url: opts.url, clientId: session.clientId, sessionPresent: connack.sessionPresent },
              'connected to external broker',
            );
            resolve();
          },
          (error: Error) =>
            reject(new PdmError('PDM_ERR_BROKER_UNREACHABLE', `${opts.url}: subscribe refused: ${error.message}`)),
        );
      });
      client.connect();
    });

  return {
    start: async () => {
      await Promise.all(sessions().map(start));
    },
    ordered: shared
      ? {
          start: async () => {
            const session = (ordered ??= { ...orderedSubscriber!, client: connect(orderedSubscriber!) });
            // A session that could not connect was ended: the next try makes a new one.
            await start(session).catch((error: unknown) => {
              if (ordered === session) ordered = undefined;
              throw error;
            });
          },
          stop: async () => {
            const leaving = ordered;
            ordered = undefined;
            await leaving?.client.endAsync();
          },
        }
      : undefined,
    port: Number(new URL(opts.url).port || 1883),
    get connectedClients() {
      return sessions().filter((s) => s.client.connected).length;
    },
    async publish(topic, payload, { qos, retain = false }) {
      await main.publishAsync(topic, payload, { qos, retain });
    },
    disconnectWhere: () => [],
    async close() {
      await Promise.all(sessions().map((s) => s.client.endAsync()));
    },
  };
}
