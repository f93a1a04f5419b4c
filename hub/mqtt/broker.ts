import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import mqemitter from 'mqemitter';
import type { Logger } from '../../config/logger.js';
import { PdmError, type ErrorCode } from '../../protocol/errors.js';
import type { LoginVerdict } from '../auth/device-auth.js';
import { printable } from '../auth/log-safe.js';
import { maySubscribe, PublishGrants } from './acl.js';
import { LoginAdmission, type PendingLogin } from './admission.js';
import { startListeners, type ClientCertificate, type ListenerConfig, type Listeners } from './listeners.js';
import { GuardedConnection } from './packet-guard.js';

/** Where the broker hands device traffic: the ingest. */
export interface DeviceMessageSink {
  handleThen(topic: string, payload: Buffer, clientId: string | undefined, done: (error: Error | null) => void): void;
  reject(code: ErrorCode, detail: Record<string, unknown>): void;
}

/**
 * The hub's MQTT side, embedded or external. It exists before it starts, so the components that publish through it
 * can be built first; device messages reach the ingest only once `start()` listens or connects.
 */
export interface HubBroker {
  start(): Promise<void>;
  /** The MQTT port, once started. */
  readonly port: number;
  /** Extra doors when configured: MQTT over TLS and over WebSocket. */
  readonly ports?: Listeners['ports'] | undefined;
  readonly connectedClients: number;
  /** Publishes as the hub (to a device's `cmd` or `model` topic). */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  /** Disconnects every client for which `keep` says no (revoked devices); returns their ids. */
  disconnectWhere(keep: (clientId: string) => boolean): string[];
  close(): Promise<void>;
}

export type Authenticate = (
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  remote: string,
  cert?: ClientCertificate,
) => Promise<LoginVerdict>;

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
  // Every connection reaches aedes as a GuardedConnection, which carries the address it came from.
  return (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
}

/** What any client may cost before and after it logs in (Mosquitto's max_packet_size, max_inflight_messages). */
export interface BrokerLimits {
  /** Largest packet a client may send, judged from its fixed header before its body is read. */
  maxPacketBytes: number;
  /** CONNECT must arrive (and a TLS handshake finish) within this long. */
  connectTimeoutMs: number;
  /** Inbound QoS 2 messages a client may leave awaiting PUBREL; one more ends the connection. */
  maxInflightQos2: number;
  /** Packets a client may send after CONNECT before its CONNACK. */
  maxQueuedBeforeLogin: number;
  /** Connections not yet logged in, per source address and in all. */
  maxPendingPerAddress: number;
  maxPendingTotal: number;
}

type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>;

/**
 * aedes options under which a device's message ends at the hub: nobody may subscribe to device topics, so routing it
 * would only keep a retained copy. authorizePublish clears its retain flag; the `mq` emitter does not pass it on.
 */
export function endDeviceMessagesAtTheHub(opts: {
  fromDevice: (clientId: string) => boolean;
  authorizePublish: AuthorizePublish;
}): Pick<AedesOptions, 'mq' | 'authorizePublish'> {
  const routed = mqemitter({ concurrency: 100, matchEmptyLevels: true });
  const mq: mqemitter.MQEmitter = {
    get current() {
      return routed.current;
    },
    get concurrent() {
      return routed.concurrent;
    },
    on(topic, listener, callback) {
      routed.on(topic, listener, callback);
      return this;
    },
    removeListener: (topic, listener, callback) => routed.removeListener(topic, listener, callback),
    close: (callback) => routed.close(callback),
    emit(message, callback) {
      const clientId = (message as { clientId?: string }).clientId;
      if (clientId !== undefined && opts.fromDevice(clientId)) return callback?.();
      routed.emit(message, callback);
    },
  };
  return {
    mq,
    authorizePublish(client, packet, callback) {
      opts.authorizePublish(client, packet, (error) => {
        if (!error && client && opts.fromDevice(client.id)) packet.retain = false;
        callback(error);
      });
    },
  };
}

/**
 * The embedded aedes broker, deny by default. Device messages are ingested in `authorizePublish`, before the PUBACK,
 * so an event is acknowledged once it is on disk; a store that cannot be written withholds the PUBACK.
 */
export async function createBroker(
  opts: ListenerConfig & {
    limits: BrokerLimits;
    ingest: DeviceMessageSink;
    authenticate: Authenticate;
    logger: Logger;
  },
): Promise<HubBroker> {
  const { ingest, logger, limits } = opts;
  const admission = new LoginAdmission({ perAddress: limits.maxPendingPerAddress, total: limits.maxPendingTotal });
  const pendingLogins = new WeakMap<object, PendingLogin>();
  // What each TLS connection's client certificate proved (or why it was refused), decided on at its CONNECT.
  const certificates = new WeakMap<object, ClientCertificate>();
  // The identity each connection proved (with its publish grants); a client missing here is denied everything.
  const proven = new WeakMap<Client, PublishGrants>();
  const connected = new Map<string, Client>();
  const broker = new Aedes({
    maxTopicLevels: 8,
    connectTimeout: limits.connectTimeoutMs,
    maxInflightInbound: limits.maxInflightQos2,
    queueLimit: limits.maxQueuedBeforeLogin,
    authenticate(client, username, password, done) {
      opts.authenticate(client.id, username, password, remoteOf(client), certificates.get(client.conn)).then(
        (verdict) => {
          if (!verdict.ok) {
            ingest.reject(verdict.code, { clientId: client.id, remote: remoteOf(client), reason: verdict.reason });
            return done(authError(verdict), false);
          }
          proven.set(client, new PublishGrants(client.id));
          pendingLogins.get(client.conn)?.loggedIn();
          done(null, true);
        },
        (error: Error) => {
          logger.error({ clientId: printable(client.id), err: error.message }, 'authentication failed unexpectedly');
          done(authError({ ok: false, code: 'PDM_ERR_AUTH_FAILED', reason: 'internal error' }), false);
        },
      );
    },
    ...endDeviceMessagesAtTheHub({
      // Only devices log in, and a client that has not may not publish: every client's message is a device's.
      fromDevice: () => true,
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
    }),
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
  broker.on('client', (client) => connected.set(client.id, client));
  broker.on('clientDisconnect', (client) => {
    if (connected.get(client.id) === client) connected.delete(client.id);
  });
  broker.on('clientError', (client, error) =>
    logger.debug({ clientId: printable(client.id), err: error.message }, 'client error'),
  );
  await broker.listen();

  /** Every listener's new connection: admitted while few from its address are still logging in, then guarded. */
  const accept = (stream: Duplex, remote: string, req?: IncomingMessage, cert?: ClientCertificate): void => {
    const pending = admission.admit(remote);
    if (typeof pending === 'string') {
      ingest.reject('PDM_ERR_TOO_MANY_CONNECTIONS', { remote, reason: pending });
      stream.destroy();
      return;
    }
    const conn = new GuardedConnection(stream, {
      maxPacketBytes: limits.maxPacketBytes,
      remoteAddress: remote,
      onViolation: (reason) => ingest.reject('PDM_ERR_PACKET_TOO_LARGE', { remote, reason }),
    });
    conn.once('close', () => pending.closed());
    pendingLogins.set(conn, pending);
    if (cert) certificates.set(conn, cert);
    broker.handle(conn, req);
  };

  let listeners: Listeners | undefined;
  return {
    async start() {
      try {
        listeners = await startListeners(
          opts,
          { maxPacketBytes: limits.maxPacketBytes, handshakeTimeoutMs: limits.connectTimeoutMs },
          accept,
        );
      } catch (error) {
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        throw error;
      }
      logger.info({ host: opts.host, ...listeners.ports }, 'mqtt broker listening');
    },
    get port() {
      return listeners?.ports.mqtt ?? 0;
    },
    get ports() {
      return listeners?.ports;
    },
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
      for (const [clientId, client] of connected) {
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
      await listeners?.close();
    },
  };
}
