import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { maySubscribe, PublishGrants } from './acl.js';
import type { LoginVerdict } from '../auth/device-auth.js';
import type { Ingest } from './ingest.js';
import { startListeners, type ListenerConfig, type Listeners } from './listeners.js';

export interface RunningBroker {
  readonly port: number;
  /** Extra doors when configured: MQTT over TLS and over WebSocket. */
  readonly ports?: Listeners['ports'];
  readonly connectedClients: number;
  /** Publishes as the hub (to a device's `cmd` or `model` topic). */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  /** Disconnects every client for which `keep` says no (revoked devices); returns their ids. */
  disconnectWhere(keep: (clientId: string) => boolean): string[];
  close(): Promise<void>;
}

// aedes' AuthErrorCode is a const enum in its typings; these are the MQTT 3.1.1 CONNACK codes it stands for.
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function authError(verdict: Extract<LoginVerdict, { ok: false }>): AuthenticateError {
  const error = new PdmError(verdict.code, verdict.reason) as unknown as AuthenticateError;
  error.returnCode = (
    verdict.code === 'PDM_ERR_AUTH_LOCKED' ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD
  ) as AuthenticateError['returnCode'];
  return error;
}

function remoteOf(client: Client): string {
  // WebSocket clients have no socket address of their own; their HTTP upgrade request has it.
  return (client.conn as { remoteAddress?: string }).remoteAddress ?? client.req?.socket.remoteAddress ?? 'unknown';
}

type Route = (packet: Parameters<Aedes['publish']>[0], client: Client | null, done?: (error?: Error) => void) => void;

/**
 * A device's message ends at the hub: ingest took it in `authorizePublish`, before its PUBACK, and no client may
 * subscribe to a device's topics (acl.ts `maySubscribe`: a device only to its own `cmd` and `model`). Routing it on
 * would only look for subscribers, offline queues and a place to keep a retained copy, none of which anyone can ever
 * read: about a tenth of the broker's CPU at 20,000 messages/s, and every device's retained status held for the
 * broker's life. So aedes' publish step is skipped for messages from devices (a Will included: it is authorised and
 * ingested like the rest); what the hub publishes (commands, model manifests) is routed as before.
 */
export function endDeviceMessagesAtTheHub(broker: Aedes, fromDevice: (client: Client) => boolean): void {
  const route = (broker.publish as unknown as Route).bind(broker);
  const publish: Route = (packet, client, done) => {
    if (typeof client === 'function') return route(packet, client);
    if (client && fromDevice(client)) return done?.();
    route(packet, client, done);
  };
  broker.publish = publish as unknown as Aedes['publish'];
}

/**
 * The embedded aedes broker. Devices log in (`authenticate`); the identity they proved is what the ACL checks, and a
 * client without one may do nothing (deny by default). Device messages are ingested inside `authorizePublish`, which
 * runs before aedes sends the PUBACK: an event is acknowledged to the agent only once the hub has it on disk. If the
 * store cannot be written, the publish is refused (no PUBACK; the client sends it again later).
 */
export async function startBroker(
  opts: ListenerConfig & {
    ingest: Ingest;
    authenticate: (
      clientId: string,
      username: string | undefined,
      password: Buffer | undefined,
      remote: string,
    ) => Promise<LoginVerdict>;
    logger: Logger;
  },
): Promise<RunningBroker> {
  const { ingest, logger } = opts;
  // The identity each connection proved (with its publish grants); a client missing here never authenticated and is
  // denied everything.
  const proven = new WeakMap<Client, PublishGrants>();
  const broker = await Aedes.createBroker({
    maxTopicLevels: 8,
    authenticate(client, username, password, done) {
      opts.authenticate(client.id, username, password, remoteOf(client)).then(
        (verdict) => {
          if (!verdict.ok) {
            ingest.reject(verdict.code, { clientId: client.id, remote: remoteOf(client), reason: verdict.reason });
            return done(authError(verdict), false);
          }
          proven.set(client, new PublishGrants(client.id));
          done(null, true);
        },
        (error: Error) => {
          logger.error({ clientId: client.id, err: error.message }, 'authentication failed unexpectedly');
          done(authError({ ok: false, code: 'PDM_ERR_AUTH_FAILED', reason: 'internal error' }), false);
        },
      );
    },
    authorizePublish(client, packet, callback) {
      // No client: the hub itself publishing through the broker.
      if (!client) return callback(null);
      const grants = proven.get(client);
      const denied = grants ? grants.check(packet.topic) : 'client never authenticated';
      if (denied) {
        ingest.reject('PDM_ERR_NOT_AUTHORIZED', { clientId: client.id, topic: packet.topic, reason: denied });
        return callback(new PdmError('PDM_ERR_NOT_AUTHORIZED', denied));
      }
      ingest.handleThen(packet.topic, packet.payload as Buffer, client.id, (error) => {
        if (error)
          logger.error({ err: error.message, topic: packet.topic }, 'could not store message; withholding PUBACK');
        callback(error);
      });
    },
    authorizeSubscribe(client, subscription, callback) {
      const grants = proven.get(client);
      const denied = grants ? maySubscribe(grants.clientId, subscription.topic) : 'client never authenticated';
      if (denied) {
        ingest.reject('PDM_ERR_NOT_AUTHORIZED', { clientId: client.id, topic: subscription.topic, reason: denied });
        // A null subscription answers 0x80 (failure) in the SUBACK and keeps the connection: MQTT 3.1.1 §3.9.3.
        return callback(null, null);
      }
      callback(null, subscription);
    },
  });
  broker.on('clientError', (client, error) =>
    logger.debug({ clientId: client.id, err: error.message }, 'client error'),
  );
  endDeviceMessagesAtTheHub(broker, (client) => proven.has(client));

  let listeners: Listeners;
  try {
    listeners = await startListeners(opts, (stream, req) => broker.handle(stream, req));
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const port = listeners.ports.mqtt;
  logger.info({ host: opts.host, ...listeners.ports }, 'mqtt broker listening');

  const clients = (broker as unknown as { clients: Record<string, Client> }).clients;
  return {
    port,
    ports: listeners.ports,
    get connectedClients() {
      return broker.connectedClients;
    },
    publish(topic, payload, { qos, retain = false }) {
      return new Promise<void>((resolve, reject) =>
        broker.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    },
    disconnectWhere(keep) {
      const dropped: string[] = [];
      for (const [clientId, client] of Object.entries(clients)) {
        if (keep(clientId)) continue;
        proven.delete(client);
        client.close();
        dropped.push(clientId);
      }
      if (dropped.length) logger.warn({ clients: dropped }, 'disconnected clients whose credentials were revoked');
      return dropped;
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await listeners.close();
    },
  };
}
