import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { TOPIC_ROOT } from '../../protocol/topics.js';
import type { RunningBroker } from './broker.js';
import type { Ingest } from './ingest.js';

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  connectTimeoutMs: number;
}

/**
 * External mode: the hub is a client of a plant's existing MQTT 3.1.1 broker (Mosquitto, EMQX, ...). That broker
 * authenticates devices and enforces topic ACLs; the hub still validates every message (payload device must match
 * the topic). A persistent session (clean: false, QoS 1) makes the broker keep messages while the hub is down, and
 * the hub's PUBACK to the broker follows the durable write, as in embedded mode. mqtt.js hands over one message at
 * a time here, so this mode's ingest rate is bounded by one store commit per message.
 */
export async function connectExternalBroker(
  opts: ExternalBrokerOptions & { ingest: Ingest; logger: Logger },
): Promise<RunningBroker> {
  const { ingest, logger } = opts;
  const client: MqttClient = mqtt.connect(opts.url, {
    clientId: opts.clientId,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 1000,
    connectTimeout: opts.connectTimeoutMs,
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.password ? { password: opts.password } : {}),
  });
  client.handleMessage = (packet, done) => {
    ingest.handle(packet.topic, packet.payload as Buffer).then(
      () => done(),
      (error: Error) => {
        // No PUBACK: the broker redelivers once the hub reconnects.
        logger.error({ err: error.message, topic: packet.topic }, 'could not store message; withholding PUBACK');
        client.end(true, () => client.reconnect());
      },
    );
  };
  client.on('error', (error) => logger.warn({ err: error.message }, 'external broker error'));
  client.on('offline', () => logger.warn({ url: opts.url }, 'external broker unreachable; retrying'));
  await new Promise<void>((resolve, reject) => {
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
      // A resumed session already has the subscription; subscribing again is harmless and covers a fresh one.
      client.subscribe(`${TOPIC_ROOT}/+/+/#`, { qos: 1 }, (error) => {
        if (error)
          return reject(new PdmError('PDM_ERR_BROKER_UNREACHABLE', `${opts.url}: subscribe refused: ${error.message}`));
        logger.info({ url: opts.url, sessionPresent: connack.sessionPresent }, 'connected to external broker');
        resolve();
      });
    });
  });
  const port = Number(new URL(opts.url).port || 1883);
  return {
    port,
    get connectedClients() {
      return client.connected ? 1 : 0;
    },
    async publish(topic, payload, { qos, retain = false }) {
      await client.publishAsync(topic, payload, { qos, retain });
    },
    disconnectWhere: () => [],
    async close() {
      await client.endAsync();
    },
  };
}
