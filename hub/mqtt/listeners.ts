import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { PdmError } from '../../protocol/errors.js';

export interface ListenerConfig {
  host: string;
  port: number;
  tls?: { port: number; certFile: string; keyFile: string } | undefined;
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

/** A new connection, with the address it comes from (a WebSocket's is its upgrade request's). */
type Handle = (stream: Duplex, remote: string, req?: IncomingMessage) => void;

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
      },
      (socket) => handle(socket, addressOf(socket)),
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
