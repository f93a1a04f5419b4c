import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import mqtt, { MqttClient, type IClientOptions, type MqttProtocol, type StreamBuilder } from 'mqtt';
import type { Logger } from '../config/logger.js';
import { PdmError } from '../protocol/errors.js';
import { backoffDelay } from '../protocol/backoff.js';

/** How the agent reaches the hub. Injected, so the pipeline never opens a socket itself (DESIGN convention 1). */
export interface DeviceLink {
  /**
   * QoS 1 resolves on the broker's PUBACK. Rejects when the connection drops first: the link does not resend by
   * itself, the outbox does (so there is one place that decides order, retries and quarantine).
   */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  readonly connected: boolean;
  /** Called on every connect (true) and every lost or closed connection (false). */
  onConnectionChange(listener: (connected: boolean) => void): void;
  /**
   * QoS 1 subscription to one topic (the device's own `model` or `cmd`, which the hub's ACL allows). Kept across
   * reconnects: the session is clean, so the link subscribes again on every connect.
   */
  subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<void>;
  close(): Promise<void>;
}

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  will: { topic: string; payload: Buffer };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  username?: string;
  password?: string;
  /** For mqtts://: the CA to trust for the hub, and this device's client certificate and key (PEM). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  logger: Logger;
}

/** MQTT.js's own stream builders for plain TCP and TLS, by URL scheme (its `connect()` uses the same ones). */
const STREAM_BUILDERS: Record<string, string> = {
  'mqtt:': 'mqtt/lib/connect/tcp',
  'tcp:': 'mqtt/lib/connect/tcp',
  'mqtts:': 'mqtt/lib/connect/tls',
  'ssl:': 'mqtt/lib/connect/tls',
};

/**
 * The MQTT client for `url`. MQTT.js's `connect()` loads the stream builder of every protocol it knows on its first call,
 * WebSocket included (the ws package, and with it Node's http, https, zlib and tls): about 3.5 MB of resident memory
 * in a process that only needs a TCP socket (a bare MQTT.js client on mqtt://, 62.7-63.2 MB RSS through `connect()`
 * against 58.9-59.2 MB through its TCP builder alone). So for mqtt:// and mqtts:// the link loads just that builder
 * and gives it the host and port of the URL, as `connect()` would; ws:// and wss:// go through `connect()`.
 */
export function createClient(url: string, options: IClientOptions): MqttClient {
  const parsed = new URL(url);
  const module = STREAM_BUILDERS[parsed.protocol];
  if (!module) return mqtt.connect(url, options);
  const builder = (createRequire(import.meta.url)(module) as { default: StreamBuilder }).default;
  const auth = parsed.username
    ? {
        username: decodeURIComponent(parsed.username),
        ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      }
    : {};
  const socksProxy = process.env.MQTTJS_SOCKS_PROXY;
  const clientOptions: IClientOptions = {
    ...auth,
    ...(socksProxy ? { socksProxy } : {}),
    ...options,
    protocol: parsed.protocol.slice(0, -1) as MqttProtocol,
    // WHATWG URL keeps an IPv6 literal's brackets, which a socket's host must not have.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
  };
  // The client calls its stream builder with itself only; connect() closes over the options the same way.
  return new MqttClient((client) => builder(client, clientOptions), clientOptions);
}

/** The agent's `hub.tls` files, read once at start; a file that cannot be read is named with its config key. */
export function readLinkTls(files: {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}): NonNullable<MqttLinkOptions['tls']> {
  const read = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new PdmError('PDM_ERR_CONFIG_INVALID', `hub.tls.${key} ${file}: ${(error as Error).message}`);
    }
  };
  return {
    ...(files.caFile ? { ca: read(files.caFile, 'caFile') } : {}),
    ...(files.certFile ? { cert: read(files.certFile, 'certFile') } : {}),
    ...(files.keyFile ? { key: read(files.keyFile, 'keyFile') } : {}),
  };
}

/** Connects with MQTT.js, QoS 1 publishes resolve on PUBACK, and reconnects back off exponentially with jitter. */
export async function connectMqttLink(opts: MqttLinkOptions): Promise<DeviceLink> {
  const log = opts.logger;
  const client: MqttClient = createClient(opts.url, {
    clientId: opts.clientId,
    protocolVersion: 4,
    clean: true,
    queueQoSZero: false,
    keepalive: 30,
    connectTimeout: opts.connectTimeoutMs,
    reconnectPeriod: opts.reconnectMinMs,
    will: { topic: opts.will.topic, payload: opts.will.payload, qos: 1, retain: true },
    // Otherwise mqtt-packet builds a cache of all 65,536 two-byte numbers on the first write: 65,536 Buffer objects,
    // about 6 MB of the agent's ~25 MB heap (seen in a heap snapshot), to save a 2-byte allocation per packet.
    writeCache: false,
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.password ? { password: opts.password } : {}),
    ...opts.tls,
  });
  let attempt = 0;
  let wasConnected = false;
  const listeners: Array<(connected: boolean) => void> = [];
  client.on('connect', () => {
    if (attempt > 0) log.info({ attempts: attempt }, 'reconnected to hub');
    attempt = 0;
    client.options.reconnectPeriod = opts.reconnectMinMs;
    wasConnected = true;
    for (const listener of listeners) listener(true);
  });
  client.on('close', () => {
    attempt += 1;
    client.options.reconnectPeriod = backoffDelay(attempt, opts.reconnectMinMs, opts.reconnectMaxMs);
    if (wasConnected) {
      wasConnected = false;
      for (const listener of listeners) listener(false);
    }
    // MQTT.js would resend these itself after reconnecting, ahead of anything newer; the outbox owns resending.
    for (const messageId of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(messageId));
  });
  client.on('offline', () => log.warn({ url: opts.url }, 'hub unreachable; will keep retrying'));
  client.on('error', (error) => log.warn({ err: error.message }, 'mqtt error'));

  await new Promise<void>((resolve) => {
    // Start without the hub too: messages queue in the client and go out once the broker is back.
    const timer = setTimeout(resolve, opts.connectTimeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  if (!client.connected) {
    log.warn(new PdmError('PDM_ERR_BROKER_UNREACHABLE', opts.url).toJSON(), 'starting without the hub');
  }

  /** Topics asked for while offline (or refused): subscribed at the next connect. MQTT.js itself resubscribes,
   * after every reconnect, what it once subscribed successfully (its `resubscribe` option), so those are not repeated. */
  const pending = new Set<string>();
  const subscribeNow = (topic: string): void => {
    client.subscribeAsync(topic, { qos: 1 }).catch((error: Error) => {
      pending.add(topic);
      log.warn({ topic, err: error.message }, 'subscribe failed; retrying at the next connect');
    });
  };
  client.on('connect', () => {
    for (const topic of pending) {
      pending.delete(topic);
      subscribeNow(topic);
    }
  });
  return {
    async subscribe(topic, onMessage) {
      client.on('message', (t, payload) => {
        if (t === topic) onMessage(payload);
      });
      if (client.connected) await client.subscribeAsync(topic, { qos: 1 });
      else pending.add(topic);
    },
    get connected() {
      return client.connected;
    },
    onConnectionChange(listener) {
      listeners.push(listener);
    },
    async publish(topic, payload, { qos, retain = false }) {
      await client.publishAsync(topic, payload, { qos, retain });
    },
    async close() {
      // Without a broker there is nothing to flush; do not wait for one.
      await client.endAsync(!client.connected);
    },
  };
}
