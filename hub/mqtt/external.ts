import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { DEVICE_CHANNELS, TOPIC_ROOT } from '../../protocol/topics.js';
import type { DeviceMessageSink, HubBroker } from './broker.js';

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
}

/** The external broker's client, and in shared mode the ordered session the leader connects and disconnects. */
export interface ExternalBroker extends HubBroker {
  ordered?: { start(): Promise<void>; stop(): Promise<void> } | undefined;
}

/** What one connection subscribes to; `drop`: filters an older version of the hub left in its persistent session. */
interface Subscriber {
  clientId: string;
  topics: string[];
  drop: string[];
}

/**
 * The hub's sessions: one for every channel but events, in the order each device sent them (status, telemetry, acks),
 * and `eventConnections` that share the events, so their commits group as a fleet's do on the embedded broker.
 */
export function subscribers(clientId: string, eventConnections: number, instance?: string): Subscriber[] {
  const ordered = DEVICE_CHANNELS.filter((c) => c !== 'event').map((c) => `${TOPIC_ROOT}/+/+/${c}`);
  const events = `$share/${clientId}/${TOPIC_ROOT}/+/+/event`;
  const eventPrefix = instance === undefined ? clientId : `${clientId}-${instance}`;
  return [
    { clientId, topics: ordered, drop: [`${TOPIC_ROOT}/+/+/#`] },
    ...Array.from({ length: eventConnections }, (_, i) => ({
      clientId: `${eventPrefix}-e${i}`,
      topics: [events],
      drop: [],
    })),
  ];
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
  const connect = (clientId: string): MqttClient => {
    // Not connected until start(); what the hub publishes before that waits in mqtt.js' offline queue.
    const client = mqtt.connect(opts.url, {
      clientId,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 1000,
      connectTimeout: opts.connectTimeoutMs,
      manualConnect: true,
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
    });
    // mqtt.js' documented hook for acknowledging a message only once it is handled (it reads the next one after).
    client.handleMessage = (packet, done) => {
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
  const [orderedSubscriber, ...eventSubscribers] = subscribers(opts.clientId, opts.eventConnections, opts.instance);
  const events = eventSubscribers.map((s) => ({ ...s, client: connect(s.clientId) }));
  // Shared mode: a client per leadership term, made when this process starts leading.
  let ordered = shared ? undefined : { ...orderedSubscriber!, client: connect(orderedSubscriber!.clientId) };
  const sessions = () => (ordered ? [ordered, ...events] : events);
  // The hub publishes through a session every process holds: in shared mode, the first event session.
  const main = (shared ? events[0]! : ordered!).client;

  const start = (session: (typeof events)[number]) =>
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
          await client.subscribeAsync(session.topics, { qos: 1 });
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
            const session = (ordered ??= { ...orderedSubscriber!, client: connect(orderedSubscriber!.clientId) });
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
