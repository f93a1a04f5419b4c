import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../config/logger.js';
import { PdmError } from '../protocol/errors.js';
import { mayPublish, maySubscribe } from './acl.js';
import type { Ingest } from './ingest.js';

export interface RunningBroker {
  readonly port: number;
  readonly connectedClients: number;
  close(): Promise<void>;
}

/**
 * The embedded aedes broker. Device messages are ingested inside `authorizePublish`, which runs before aedes sends
 * the PUBACK: an event is acknowledged to the agent only once the hub has it on disk. If the store cannot be
 * written, the publish is refused (the client is disconnected, gets no PUBACK, and sends it again later).
 */
export async function startBroker(opts: {
  host: string;
  port: number;
  ingest: Ingest;
  logger: Logger;
}): Promise<RunningBroker> {
  const { ingest, logger } = opts;
  const broker = await Aedes.createBroker({
    maxTopicLevels: 8,
    authorizePublish(client, packet, callback) {
      if (!client) return callback(null);
      const denied = mayPublish(client.id, packet.topic);
      if (denied) {
        ingest.reject('PDM_ERR_NOT_AUTHORIZED', { clientId: client.id, topic: packet.topic, reason: denied });
        return callback(new PdmError('PDM_ERR_NOT_AUTHORIZED', denied));
      }
      ingest.handle(packet.topic, packet.payload as Buffer, client.id).then(
        () => callback(null),
        (error: Error) => {
          logger.error({ err: error.message, topic: packet.topic }, 'could not store message; withholding PUBACK');
          callback(error);
        },
      );
    },
    authorizeSubscribe(client, subscription, callback) {
      const denied = maySubscribe(client.id, subscription.topic);
      if (denied) {
        ingest.reject('PDM_ERR_NOT_AUTHORIZED', { clientId: client.id, topic: subscription.topic, reason: denied });
        return callback(new PdmError('PDM_ERR_NOT_AUTHORIZED', denied));
      }
      callback(null, subscription);
    },
  });
  broker.on('clientError', (client, error) => logger.debug({ clientId: client.id, err: error.message }, 'client error'));

  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new PdmError('PDM_ERR_LISTEN', `mqtt ${opts.host}:${opts.port}: ${error.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: opts.host, port }, 'mqtt broker listening');

  return {
    port,
    get connectedClients() {
      return broker.connectedClients;
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
