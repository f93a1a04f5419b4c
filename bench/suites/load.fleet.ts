import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { DEVICE_SCRYPT, hashSecret, newSecret } from '../../hub/auth/secrets.js';
import { HUB_NODE_FLAGS, HUB_RUNTIME_ENV } from '../../hub/runtime-settings.js';
import { readStoredDir } from '../../hub/store/sql/engine.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory, type EnvelopeFactory } from '../../protocol/envelope.js';
import { deviceClientId } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { startPdm, type HubReady } from '../../testkit/processes.js';
import type { Report } from '../result.js';

const SITE = 'load';
const DEVICES = Number(process.env.PDM_BENCH_DEVICES ?? 1000);
/** Each device's configured rates: telemetry every TELEMETRY_EVERY_S seconds, an event every EVENT_EVERY_S. */
const TELEMETRY_EVERY_S = Number(process.env.PDM_BENCH_TELEMETRY_EVERY_S ?? 2);
const EVENT_EVERY_S = Number(process.env.PDM_BENCH_EVENT_EVERY_S ?? 30);
const STEADY_SECONDS = Number(process.env.PDM_BENCH_SECONDS ?? 30);

export const percentile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
export const rssOf = (pid: number): number =>
  Number(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'))!
      .split(/\s+/)[1],
  ) * 1024;

/**
 * A hub process with `devices` provisioned under one shared secret (hashing 1,000 secrets with scrypt would take minutes).
 * It runs with the shipped runtime settings (hub/runtime-settings.ts); `env` is added to its environment on top, and
 * `nodeFlags` replace the shipped node flags.
 */
export async function startLoadHub(
  devices: number,
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = [...process.execArgv, ...HUB_NODE_FLAGS],
): Promise<{ child: ChildProcess; ready: HubReady; dataDir: string; secret: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdm-load-'));
  const secret = newSecret();
  const hash = await hashSecret(secret, DEVICE_SCRYPT);
  const records = Object.fromEntries(
    Array.from({ length: devices }, (_, d) => [
      deviceClientId(SITE, `dev-${d}`),
      { site: SITE, device: `dev-${d}`, hash, createdAt: Date.now() },
    ]),
  );
  await new DurableJsonFile(join(dataDir, 'identities.json')).write({ schema: 1, devices: records, users: {} });
  const { child, ready } = await startPdm<HubReady>(
    ['hub'],
    {
      PDM_HUB_MQTT_HOST: '127.0.0.1',
      PDM_HUB_MQTT_PORT: '0',
      PDM_HUB_HTTP_PORT: '0',
      PDM_HUB_DATA_DIR: dataDir,
      PDM_HUB_LOG_LEVEL: 'warn',
      PDM_HUB_LOG_FILE: join(dataDir, 'hub.log'),
      // The whole fleet logs in from 127.0.0.1, 100 at a time (connectAll): more than one address's default.
      PDM_HUB_MQTT_LIMITS_MAX_PENDING_PER_ADDRESS: '256',
      ...HUB_RUNTIME_ENV,
      ...env,
    },
    nodeFlags,
  );
  child.stdout?.resume();
  return { child, ready, dataDir, secret };
}

/** One simulated device: a real MQTT connection, and like an agent it keeps every event until its PUBACK. */
export class LoadDevice {
  client: MqttClient | undefined;
  readonly unacked = new Map<string, { topic: string; payload: Buffer }>();
  readonly acked = new Set<string>();
  private readonly envelopes: EnvelopeFactory;
  private readonly episode = uuidv7();

  constructor(
    readonly index: number,
    private readonly port: number,
    private readonly secret: string,
  ) {
    this.envelopes = createEnvelopeFactory({ site: SITE, device: `dev-${index}` });
  }

  async connect(): Promise<void> {
    const id = deviceClientId(SITE, `dev-${this.index}`);
    this.client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.port}`, {
      clientId: id,
      username: id,
      password: this.secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 60_000,
    });
    this.client.on('error', () => undefined);
  }

  /** Publishes at QoS 1 and resolves with the PUBACK latency in ms, or undefined if the connection went first. */
  private async send(m: { topic: string; payload: Buffer }): Promise<number | undefined> {
    const sent = performance.now();
    try {
      await this.client!.publishAsync(m.topic, m.payload, { qos: 1 });
      return performance.now() - sent;
    } catch {
      return undefined;
    }
  }

  telemetry(): Promise<number | undefined> {
    const e = this.envelopes.next();
    return this.send(
      encode('telemetry', {
        ...e,
        windowStart: e.ts - 1000,
        windowEnd: e.ts,
        features: { 'vibration.rms': 0.5, 'vibration.kurtosis': 3 },
        score: 0.4,
        threshold: 1,
      }),
    );
  }

  async event(): Promise<number | undefined> {
    const e = this.envelopes.next();
    const m = encode('event', {
      ...e,
      kind: 'anomaly',
      episodeId: this.episode,
      asset: `asset-${this.index}`,
      score: 2,
      threshold: 1.5,
      severity: 'warning',
      model: { id: 'rms', version: '1' },
      contributions: [{ feature: 'vibration.rms', value: 2, share: 1 }],
      windowStart: e.ts - 1000,
      windowEnd: e.ts,
    });
    this.unacked.set(e.id, m);
    return this.resend(e.id);
  }

  /** Sends (again) one event it holds; it leaves `unacked` only on PUBACK. */
  async resend(id: string): Promise<number | undefined> {
    const latency = await this.send(this.unacked.get(id)!);
    if (latency !== undefined) {
      this.unacked.delete(id);
      this.acked.add(id);
    }
    return latency;
  }
}

export async function connectAll(devices: LoadDevice[], batch = 100): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < devices.length; i += batch)
    await Promise.all(devices.slice(i, i + batch).map((d) => d.connect()));
  return (performance.now() - started) / 1000;
}

/**
 * `npm run bench -- load.fleet`: DEVICES real MQTT connections from this one process to one hub process, each at its
 * rates (telemetry and events, QoS 1) for STEADY_SECONDS; then a reconnect storm: every connection is cut at once
 * and all come back together, resending what was not acknowledged. At the end the hub's state must hold every event.
 */
export async function run(report: Report): Promise<void> {
  const hub = await startLoadHub(DEVICES);
  const devices = Array.from({ length: DEVICES }, (_, i) => new LoadDevice(i, hub.ready.mqttPort, hub.secret));
  try {
    const connectSeconds = await connectAll(devices);
    report({
      bench: 'load.fleet',
      metric: 'fleet_connect_seconds',
      value: Number(connectSeconds.toFixed(2)),
      unit: 's',
      devices: DEVICES,
      hubRssMb: Math.round(rssOf(hub.child.pid!) / 1e6),
    });

    // Steady state: each device on its own timer, phase-shifted so the fleet's load is even.
    const latencies: number[] = [];
    const timers: NodeJS.Timeout[] = [];
    const inflight = new Set<Promise<unknown>>();
    const track = (p: Promise<number | undefined>) => {
      const q = p.then((ms) => void (ms !== undefined && latencies.push(ms)));
      inflight.add(q);
      void q.finally(() => inflight.delete(q));
    };
    const started = performance.now();
    for (const d of devices) {
      const shift = (d.index / DEVICES) * TELEMETRY_EVERY_S * 1000;
      const every = (ms: number, first: number, fn: () => void) =>
        timers.push(setTimeout(() => (fn(), timers.push(setInterval(fn, ms))), first));
      every(TELEMETRY_EVERY_S * 1000, shift, () => track(d.telemetry()));
      every(EVENT_EVERY_S * 1000, (d.index / DEVICES) * Math.min(EVENT_EVERY_S, STEADY_SECONDS / 2) * 1000, () =>
        track(d.event()),
      );
    }
    for (let t = 5; t <= STEADY_SECONDS; t += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const sorted = [...latencies].sort((a, b) => a - b);
      report({
        bench: 'load.fleet',
        metric: 'steady',
        value: Math.round(latencies.length / ((performance.now() - started) / 1000)),
        unit: 'msg/s',
        atSeconds: t,
        p50Ms: Number(percentile(sorted, 0.5).toFixed(1)),
        p95Ms: Number(percentile(sorted, 0.95).toFixed(1)),
        p99Ms: Number(percentile(sorted, 0.99).toFixed(1)),
        hubRssMb: Math.round(rssOf(hub.child.pid!) / 1e6),
      });
    }
    for (const t of timers) clearTimeout(t);
    await Promise.all(inflight);

    // Reconnect storm: every device sends an event, and while those are in flight every connection is cut at once.
    const sending = devices.map((d) => d.event());
    for (const d of devices) d.client!.stream.destroy();
    // Ending the dead clients fails what they still had in flight, as a lost connection does in an agent.
    for (const d of devices) d.client!.end(true);
    await Promise.all(sending);
    const held = devices.reduce((sum, d) => sum + d.unacked.size, 0);
    const stormStart = performance.now();
    await Promise.all(devices.map((d) => d.connect()));
    const stormSeconds = (performance.now() - stormStart) / 1000;
    await Promise.all(devices.flatMap((d) => [...d.unacked.keys()].map((id) => d.resend(id))));
    const drainSeconds = (performance.now() - stormStart) / 1000;
    await Promise.all(devices.map((d) => d.client!.endAsync()));

    hub.child.kill('SIGTERM');
    await new Promise((resolve) => hub.child.once('exit', resolve));
    const state = readStoredDir(hub.dataDir);
    const acked = devices.flatMap((d) => [...d.acked]);
    const lost =
      acked.filter((id) => !state.seenEvents.has(id)).length + devices.reduce((sum, d) => sum + d.unacked.size, 0);
    const refs = state.inspections
      .flatMap((i) => i.events)
      .concat(state.watches.filter((w) => w.status !== 'promoted').flatMap((w) => w.events));
    const duplicates = refs.length - new Set(refs.map((r) => r.id)).size;
    report({
      bench: 'load.fleet',
      metric: 'reconnect_storm_seconds',
      value: Number(stormSeconds.toFixed(2)),
      unit: 's',
      devices: DEVICES,
      heldAtCut: held,
      drainedSeconds: Number(drainSeconds.toFixed(2)),
    });
    report({
      bench: 'load.fleet',
      metric: 'events_lost',
      value: lost,
      unit: 'events',
      events: acked.length,
      duplicates,
      target: 0,
    });
  } finally {
    for (const d of devices) d.client?.end(true);
    if (hub.child.exitCode === null) hub.child.kill('SIGKILL');
    await rm(hub.dataDir, { recursive: true, force: true });
  }
}
