import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { TOPIC_ROOT } from '../../protocol/topics.js';
import type { DeviceMessageSink, HubBroker } from './broker.js';

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  connectTimeoutMs: number;
}

/**
 * External mode: the hub is a client of the plant's broker, which authenticates devices; a persistent session keeps
 * messages while the hub is down, and the hub acknowledges each only once it is durable.
 */
export function createExternalBroker(
  opts: ExternalBrokerOptions & { ingest: Pick<DeviceMessageSink, 'handleThen'>; logger: Logger },
): HubBroker {
  const { ingest, logger } = opts;
  // Not connected until start(); what the hub publishes before that waits in mqtt.js' offline queue.
  const client: MqttClient = mqtt.connect(opts.url, {
    clientId: opts.clientId,
    protocolVersion: 4,
    clean: false,
    reconnectPeriod: 1000,
    connectTimeout: opts.connectTimeoutMs,
    manualConnect: true,
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.password ? { password: opts.password } : {}),
  });
  // mqtt.js' documented hook for acknowledging a message only once it is handled.
  client.handleMessage = (packet, done) => {
    ingest.handleThen(packet.topic, packet.payload as Buffer, undefined, (error) => {
      if (!error) return done();
      // No PUBACK: the broker redelivers once the hub reconnects.
      logger.error({ err: error.message, topic: packet.topic }, 'could not store message; withholding PUBACK');
      client.end(true, () => client.reconnect());
    });
  };
  client.on('error', (error) => logger.warn({ err: error.message }, 'external broker error'));
  client.on('offline', () => logger.warn({ url: opts.url }, 'external broker unreachable; retrying'));
  return {
    start: () =>
      new Promise<void>((resolve, reject) => {
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
              return reject(
                new PdmError('PDM_ERR_BROKER_UNREACHABLE', `${opts.url}: subscribe refused: ${error.message}`),
              );
            logger.info({ url: opts.url, sessionPresent: connack.sessionPresent }, 'connected to external broker');
            resolve();
          });
        });
        client.connect();
      }),
    port: Number(new URL(opts.url).port || 1883),
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
