import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../support/self-signed.js';

const TOPIC = 'pdm/v1/plant-t/pump-t/telemetry';

/** A real aedes broker on loopback, over TCP or (with a certificate) TLS, that records what it received. */
async function broker(tls?: {
  key: Buffer;
  cert: Buffer;
}): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const received: string[] = [];
  aedes.on('publish', (packet, client) => {
    if (client) received.push(packet.payload.toString());
  });
  const server: Server = tls ? createTlsServer(tls, aedes.handle) : createTcpServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * In a fresh process (so nothing the test runner loaded counts): the built link connects to `url`, publishes one QoS 1
 * message if it connected (resolved on the broker's PUBACK), closes, and reports whether it connected and which of
 * Node's modules the process had loaded.
 */
function linkInChild(url: string, env: Record<string, string> = {}): Promise<{ connected: boolean; loaded: string[] }> {
  const script = [
    "const { connectMqttLink } = await import('./dist/agent/link.js');",
    "const { pino } = await import('pino');",
    `const link = await connectMqttLink({ url: ${JSON.stringify(url)}, clientId: 'plant-t:pump-t', will: { topic: ` +
      `'pdm/v1/plant-t/pump-t/status', payload: Buffer.from('{}') }, reconnectMinMs: 100, reconnectMaxMs: 500, ` +
      `connectTimeoutMs: 3000, logger: pino({ level: 'silent' }) });`,
    // Without a connection within the timeout the link starts anyway; a publish would then wait for one.
    'const connected = link.connected;',
    `if (connected) await link.publish(${JSON.stringify(TOPIC)}, Buffer.from('hello'), { qos: 1 });`,
    'await link.close();',
    "const loaded = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));",
    'process.stdout.write(JSON.stringify({ connected, loaded }));',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as { connected: boolean; loaded: string[] })
        : reject(new Error(`link child exited with ${code}: ${stderr}`)),
    );
  });
}

/** A broker on TLS with a throwaway self-signed certificate for 127.0.0.1, made here so nothing is fetched or shipped. */
async function tlsBroker(
  cleanups: Array<() => Promise<void> | void>,
): Promise<{ b: Awaited<ReturnType<typeof broker>>; certFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-link-tls-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const { certFile, keyFile } = selfSignedCert(dir);
  const b = await broker({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
  cleanups.push(() => b.close());
  return { b, certFile };
}

describe('agent link transports', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('publishes over mqtt:// with only the TCP transport loaded (no WebSocket, HTTP, TLS or zlib)', async () => {
    const b = await broker();
    cleanups.push(() => b.close());
    const run = await linkInChild(`mqtt://127.0.0.1:${b.port}`);
    expect(run.connected).toBe(true);
    expect(b.received).toContain('hello');
    expect(run.loaded).toContain('net');
    for (const unwanted of ['http', 'https', 'tls', 'zlib']) expect(run.loaded).not.toContain(unwanted);
  });

  it('publishes over mqtts:// to a broker whose certificate the device trusts, without loading WebSocket or HTTP', async () => {
    const { b, certFile } = await tlsBroker(cleanups);
    const run = await linkInChild(`mqtts://127.0.0.1:${b.port}`, { NODE_EXTRA_CA_CERTS: certFile });
    expect(run.connected).toBe(true);
    expect(b.received).toContain('hello');
    expect(run.loaded).toContain('tls');
    for (const unwanted of ['http', 'https', 'zlib']) expect(run.loaded).not.toContain(unwanted);
  });

  it('does not publish over mqtts:// to a broker whose certificate nobody vouches for', async () => {
    const { b } = await tlsBroker(cleanups);
    const run = await linkInChild(`mqtts://127.0.0.1:${b.port}`);
    expect(run.connected).toBe(false);
    expect(b.received).toEqual([]);
  });
});
