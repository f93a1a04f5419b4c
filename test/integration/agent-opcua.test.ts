import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpcUaSourceSchema } from '../../config/schemas/source.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { openSource } from '../../sources/index.js';
import { OpcUaSource } from '../../sources/opcua.js';
import { sampleSourceContract, until } from '../contracts/sample-source.contract.js';
import { exited, freePort, runPdm, startPdm } from '../../testkit/processes.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

/**
 * The agent's OPC UA source against a real node-opcua server in a child process (fixtures/opcua-server.ts, built by
 * `npm test` before vitest runs): subscriptions, sampling intervals, status codes, a SIGKILLed server and certificates
 * are the protocol's own; only the PLC behind it is a counter.
 */
const SERVER = resolve('dist/test/integration/fixtures/opcua-server.js');
const dir = mkdtempSync(join(tmpdir(), 'pdm-opcua-'));
const logger = pino({ level: 'silent' });
const servers: ChildProcess[] = [];

async function startServer(port: number, pkiDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SERVER, String(port), pkiDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().startsWith('ready') && ready());
    child.once('exit', (code) => fail(new Error(`OPC UA server exited with ${code}: ${stderr}`)));
  });
  return child;
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exited(child);
}

/** Moves every certificate a PKI store refused into its trusted folder, as an operator does after checking them. */
function trustRejected(pkiDir: string): number {
  const rejected = readdirSync(join(pkiDir, 'rejected')).filter((f) => f.endsWith('.pem') || f.endsWith('.der'));
  for (const file of rejected) renameSync(join(pkiDir, 'rejected', file), join(pkiDir, 'trusted', 'certs', file));
  return rejected.length;
}

let port = 0;
const config = (overrides: Record<string, unknown> = {}) =>
  OpcUaSourceSchema.parse({
    kind: 'opcua',
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    rateHz: 10,
    timeoutMs: 3000,
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    security: { pkiDir: join(dir, 'agent-pki') },
    nodes: [
      { channel: 'fast', nodeId: 'ns=1;s=Fast', samplingIntervalMs: 50 },
      { channel: 'slow', nodeId: 'ns=1;s=Slow', samplingIntervalMs: 500 },
      { channel: 'temperature', nodeId: 'ns=1;s=Temperature', scale: 2, offset: -100 },
    ],
    ...overrides,
  });

// One server for the file (it takes seconds to start on a loaded machine); the SIGKILL test starts its successor.
let server: ChildProcess;
let serverPki = join(dir, 'server-pki');
beforeAll(async () => {
  port = await freePort();
  server = await startServer(port, serverPki);
});
afterAll(async () => {
  for (const child of servers) await kill(child, 'SIGKILL');
});

const sources: OpcUaSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) await source.stop();
});
function open(cfg: ReturnType<typeof config>): { source: OpcUaSource; blocks: SampleBlock[]; ready: Promise<void> } {
  const source = new OpcUaSource(cfg, logger);
  sources.push(source);
  const blocks: SampleBlock[] = [];
  return { source, blocks, ready: source.start((b) => blocks.push(b)) };
}
const last = (blocks: SampleBlock[], channel: string) => blocks.at(-1)?.channels[channel]?.[0] ?? NaN;

describe('OPC UA source', () => {
  it('hands over samples at the configured rate, each node sampled by the server at its own interval', async () => {
    const { blocks, ready } = open(config());
    await ready;
    await until(() => blocks.length >= 32, 15_000);
    // The first blocks may precede the initial values; judge 30 blocks of a running subscription.
    const run = blocks.slice(-30);
    for (const b of run) {
      expect(b.rateHz).toBe(10);
      for (const a of Object.values(b.channels)) expect(a.length).toBe(1);
    }
    const spanMs = run.at(-1)!.t0 - run[0]!.t0;
    expect(spanMs).toBeGreaterThanOrEqual(29 * 100);
    expect(spanMs).toBeLessThan(29 * 100 * 1.5);
    const distinct = (channel: string) => new Set(run.map((b) => b.channels[channel]![0])).size;
    // The counter steps every 50 ms: sampled every 50 ms nearly every 100 ms block sees a new value; sampled every
    // 500 ms it holds for about five blocks (3 s: about 6 values).
    expect(distinct('fast')).toBeGreaterThanOrEqual(25);
    expect(distinct('slow')).toBeGreaterThanOrEqual(4);
    expect(distinct('slow')).toBeLessThanOrEqual(9);
    const steps = run.slice(1).map((b, i) => b.channels.fast![0]! - run[i]!.channels.fast![0]!);
    expect(steps.every((s) => s >= 0)).toBe(true);
    // Scaled to engineering units: 50 ± 5 × 2 − 100.
    for (const b of run) expect(Math.abs(b.channels.temperature![0]!)).toBeLessThanOrEqual(10 + 1e-9);
  });

  it('counts a node whose status is Uncertain or Bad as bad samples (NaN), never its value', async () => {
    const nodes = [
      { channel: 'fast', nodeId: 'ns=1;s=Fast', samplingIntervalMs: 50 },
      { channel: 'broken', nodeId: 'ns=1;s=Broken', samplingIntervalMs: 50 },
      { channel: 'uncertain', nodeId: 'ns=1;s=Uncertain', samplingIntervalMs: 50 },
      { channel: 'clamped', nodeId: 'ns=1;s=Clamped', samplingIntervalMs: 50 },
      { channel: 'missing', nodeId: 'ns=1;s=NoSuchNode' },
    ];
    const { source, blocks, ready } = open(config({ nodes }));
    await ready;
    await until(() => blocks.length >= 15 && Number.isFinite(last(blocks, 'fast')));
    const connected = blocks.slice(-10);
    // The server keeps changing Broken's value but marks it BadSensorFailure: none of those values gets through.
    expect(connected.every((b) => Number.isFinite(b.channels.fast![0]))).toBe(true);
    expect(connected.every((b) => Number.isNaN(b.channels.broken![0]))).toBe(true);
    expect(connected.every((b) => Number.isNaN(b.channels.uncertain![0]))).toBe(true);
    expect(connected.every((b) => Number.isNaN(b.channels.missing![0]))).toBe(true);
    // Severity Good with information bits is a usable value.
    expect(connected.every((b) => Number.isFinite(b.channels.clamped![0]))).toBe(true);
    expect(source.stats.badQualitySamples).toBeGreaterThanOrEqual(30);
    expect(source.stats.disconnectedBlocks).toBe(0);
  });

  it('turns a SIGKILLed server into bad samples and reconnects with backoff when it comes back', async () => {
    const { source, blocks, ready } = open(config());
    await ready;
    await until(() => Number.isFinite(last(blocks, 'fast')));
    const before = last(blocks, 'fast');
    await kill(server, 'SIGKILL');
    await until(() => Number.isNaN(last(blocks, 'fast')), 5000);
    const killedAt = blocks.length;
    await until(() => blocks.length >= killedAt + 10);
    // Every node of every block while the server is gone is bad; none repeats a stale value.
    for (const b of blocks.slice(killedAt)) for (const a of Object.values(b.channels)) expect(a[0]).toBeNaN();
    expect(source.stats.lost).toBe(1);
    expect(source.stats.failedConnects).toBeGreaterThanOrEqual(1);
    expect(source.lastError?.code).toBe('PDM_ERR_SOURCE');
    expect(source.connected).toBe(false);

    // A fresh store: the killed server left its PKI folder's lock file, which a new process would wait out.
    serverPki = join(dir, 'server-pki-restarted');
    server = await startServer(port, serverPki);
    await until(() => Number.isFinite(last(blocks, 'fast')), 20_000);
    expect(source.connected).toBe(true);
    expect(source.stats.connects).toBe(2);
    expect(source.lastError).toBeUndefined();
    // A new server process counts from 0 again: the value is the new server's, not one held from before.
    await until(() => last(blocks, 'fast') > 0);
    expect(last(blocks, 'fast')).toBeLessThan(before + 1000);
    expect(source.stats.disconnectedBlocks).toBeGreaterThanOrEqual(10);
  });

  it('connects with SignAndEncrypt once both sides trust each other, and says which side refused before', async () => {
    const agentPki = join(dir, 'secure-agent-pki');
    const { source, blocks, ready } = open(
      config({
        security: { mode: 'SignAndEncrypt', policy: 'Basic256Sha256', pkiDir: agentPki },
        nodes: [{ channel: 'fast', nodeId: 'ns=1;s=Fast', samplingIntervalMs: 50 }],
      }),
    );
    await ready;

    // 1. The agent has never seen the server's certificate: it refuses it and says where to trust it.
    await until(() => source.lastError !== undefined);
    expect(source.lastError!.message).toContain('its certificate is not trusted');
    expect(source.lastError!.message).toContain(join(agentPki, 'rejected'));
    expect(trustRejected(agentPki)).toBe(1);

    // 2. Now the server refuses the agent's certificate, and the error names the file to trust there.
    await until(() => /refused this agent's certificate/.test(source.lastError?.message ?? ''), 15_000);
    expect(source.lastError!.message).toContain(join(agentPki, 'own', 'certs', 'client_certificate.pem'));
    expect(source.lastError!.message).toContain('BadSecurityChecksFailed');
    expect(blocks.every((b) => Number.isNaN(b.channels.fast![0]))).toBe(true);
    expect(source.stats.connects).toBe(0);

    // 3. Trusted on both sides: values flow over the encrypted channel, with neither process restarted.
    expect(trustRejected(serverPki)).toBe(1);
    await until(() => Number.isFinite(last(blocks, 'fast')), 20_000);
    expect(source.connected).toBe(true);
    expect(source.lastError).toBeUndefined();
  });

  it('says so when the server offers no endpoint with the configured security', async () => {
    const { source, ready } = open(
      config({ security: { mode: 'Sign', pkiDir: join(dir, 'agent-pki'), trustUnknownServer: true } }),
    );
    await ready;
    await until(() => source.lastError !== undefined);
    expect(source.lastError!.message).toContain('offers no endpoint with security mode Sign and policy Basic256Sha256');
  });
});

describe('the agent process on an OPC UA source', () => {
  it('counts the bad node as a sensor fault beside the good one, and keeps node-opcua off its JSON log', async () => {
    const hub = new TestBroker();
    await hub.start();
    const file = join(dir, 'agent-process.yaml');
    writeFileSync(
      file,
      [
        'site: plant-1',
        'device: pump-9',
        `hub: { url: "${hub.url}", connectTimeoutMs: 300, reconnectMinMs: 50, reconnectMaxMs: 200 }`,
        'source:',
        '  kind: opcua',
        `  endpoint: opc.tcp://127.0.0.1:${port}`,
        '  rateHz: 20',
        `  security: { pkiDir: "${join(dir, 'process-pki')}" }`,
        '  nodes:',
        '    - { channel: fast, nodeId: "ns=1;s=Fast", samplingIntervalMs: 50 }',
        '    - { channel: broken, nodeId: "ns=1;s=Broken", samplingIntervalMs: 50 }',
        'channels: [{ name: fast, spectrum: false }, { name: broken, spectrum: false }]',
        'window: { seconds: 0.5 }',
        'detector: { kind: rms-threshold, channel: fast, threshold: 1000000 }',
        'health: { intervalSeconds: 0.5 }',
        `outbox: { dir: "${join(dir, 'process-outbox')}" }`,
        'log: { level: debug, file: stdout }',
      ].join('\n'),
    );
    const { child } = await startPdm(['agent', '--config', file], {});
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      type Sensors = Record<string, { state: string; nonFinite: number }>;
      const sensors = () =>
        hub.received.filter((r) => r.channel === 'health').map((r) => r.message.sensors as Sensors | undefined);
      await waitFor(() => sensors().some((s) => (s?.broken?.nonFinite ?? 0) >= 20), 'health counting bad samples');
      const last = sensors().at(-1)!;
      expect(last.broken!.state).toBe('nan-storm');
      expect(last.fast!.state).toBe('ok');
      expect(last.fast!.nonFinite).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
      await hub.stop();
    }
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    // node-opcua writes its diagnostics with console.log; the source routes them into the log, so stdout stays JSON.
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(stdout).toContain('"lib":"node-opcua"');
  });
});

describe('OPC UA source config', () => {
  const agentConfig = (source: string) => {
    const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `site: s\ndevice: d\nsource:\n${source}`);
    return file;
  };

  it('exits 2 naming an unknown security mode', async () => {
    const { code, stderr } = await runPdm([
      'agent',
      '--config',
      agentConfig(
        '  kind: opcua\n  endpoint: opc.tcp://127.0.0.1:4840\n  security: { mode: Encrypt }\n  nodes: [{ channel: t, nodeId: "ns=1;s=T" }]\n',
      ),
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('key "source.security.mode"');
    expect(stderr).toContain('"SignAndEncrypt"');
    expect(stderr).toContain('PDM_ERR_CONFIG_INVALID');
  });

  it('exits 2 naming a node without a node id, and one whose node id is not one', async () => {
    const missing = await runPdm([
      'agent',
      '--config',
      agentConfig('  kind: opcua\n  endpoint: opc.tcp://127.0.0.1:4840\n  nodes: [{ channel: t }]\n'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('key "source.nodes.0.nodeId"');
    const malformed = await runPdm([
      'agent',
      '--config',
      agentConfig(
        '  kind: opcua\n  endpoint: opc.tcp://127.0.0.1:4840\n  nodes: [{ channel: t, nodeId: Temperature }]\n',
      ),
    ]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('key "source.nodes.0.nodeId": expected an OPC UA node id');
  });
});

sampleSourceContract('OPC UA subscription (real node-opcua server)', async () => ({
  source: new OpcUaSource(config(), logger),
}));

sampleSourceContract('OPC UA source opened from an agent config (sources/index.ts)', async () => {
  const opened = await openSource({ site: 's', device: 'd', source: { ...config(), rpm: 1480 } }, logger);
  expect(opened.rpm).toBe(1480);
  return { source: opened.source };
});
