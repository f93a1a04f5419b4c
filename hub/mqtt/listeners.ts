import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { DEVICE_KEY_PATTERN, deviceClientId, parseDeviceKey } from '../../protocol/device.js';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { PdmError } from '../../protocol/errors.js';

export interface ListenerConfig {
  host: string;
  port: number;
  tls?:
    | {
        port: number;
        certFile: string;
        keyFile: string;
        clientCaFile?: string | undefined;
        requireClientCert?: boolean | undefined;
      }
    | undefined;
  websocket?: { port: number; path: string } | undefined;
}

export interface ListenerLimits {
  /** Largest MQTT packet a client may send; a WebSocket message may not be larger either. */
  maxPacketBytes: number;
  /** A TLS handshake must finish within this long. */
  handshakeTimeoutMs: number;
}

export interface Listeners {
  ports: { mqtt: number; mqtts?: number; ws?: number };
  close(): Promise<void>;
}

/**
 * What a TLS client's certificate says: the device (its client id) when it verifies against the client CA, or why it
 * was refused (another CA, expired, a subject that names no device). Undefined: no certificate was presented.
 */
export type ClientCertificate = { device: string } | { refused: string };

/** A new connection, with the address it comes from (a WebSocket's is its upgrade request's). */
type Handle = (stream: Duplex, remote: string, req?: IncomingMessage, cert?: ClientCertificate) => void;

/** The device a verified client certificate names by its subject CN, `site/device`. */
export function clientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return undefined;
  if (!socket.authorized) return { refused: String(socket.authorizationError ?? 'not verified') };
  const cn = peer.subject?.CN;
  const key = typeof cn === 'string' && DEVICE_KEY_PATTERN.test(cn) ? parseDeviceKey(cn) : undefined;
  if (!key) return { refused: `subject CN ${JSON.stringify(cn)} is not site/device` };
  return { device: deviceClientId(key.site, key.device) };
}

const addressOf = (socket: { remoteAddress?: string | undefined }): string => socket.remoteAddress ?? 'unknown';

async function listen(server: Server, host: string, port: number, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new PdmError('PDM_ERR_LISTEN', `${what} ${host}:${port}: ${error.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** A PEM file named by the config key `what`; a clear error naming the key and the file when it cannot be read. */
export function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `${what} ${file}: ${(error as Error).message}`);
  }
}

/** The broker's doors: plain TCP always; TLS and WebSocket (for browsers) when configured. All feed one aedes. */
export async function startListeners(cfg: ListenerConfig, limits: ListenerLimits, handle: Handle): Promise<Listeners> {
  const servers: Server[] = [];
  const tcp = createServer((socket) => handle(socket, addressOf(socket)));
  servers.push(tcp);
  const ports: Listeners['ports'] = { mqtt: await listen(tcp, cfg.host, cfg.port, 'mqtt') };
  if (cfg.tls) {
    const tls = createTlsServer(
      {
        cert: readPem(cfg.tls.certFile, 'mqtt.tls.certFile'),
        key: readPem(cfg.tls.keyFile, 'mqtt.tls.keyFile'),
        handshakeTimeout: limits.handshakeTimeoutMs,
        // Verified here, decided at CONNECT: a refused certificate then gets a CONNACK that says so, and is counted.
        ...(cfg.tls.clientCaFile
          ? {
              ca: readPem(cfg.tls.clientCaFile, 'mqtt.tls.clientCaFile'),
              requestCert: true,
              rejectUnauthorized: false,
            }
          : {}),
      },
      (socket) => {
        let cert = cfg.tls?.clientCaFile ? clientCertificate(socket) : undefined;
        if (!cert && cfg.tls?.requireClientCert)
          cert = { refused: 'no client certificate (mqtt.tls.requireClientCert)' };
        handle(socket, addressOf(socket), undefined, cert);
      },
    );
    servers.push(tls);
    ports.mqtts = await listen(tls, cfg.host, cfg.tls.port, 'mqtts');
  }
  let wss: WebSocketServer | undefined;
  if (cfg.websocket) {
    const http = createHttpServer((_req, res) =>
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'),
    );
    // ws buffers a whole message before handing it on: no message may exceed one packet (plus framing slack).
    wss = new WebSocketServer({ server: http, path: cfg.websocket.path, maxPayload: limits.maxPacketBytes + 16 });
    wss.on('connection', (socket, req) => handle(createWebSocketStream(socket), addressOf(req.socket), req));
    servers.push(http);
    ports.ws = await listen(http, cfg.host, cfg.websocket.port, 'mqtt websocket');
  }
  return {
    ports,
    async close() {
      wss?.close();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}
