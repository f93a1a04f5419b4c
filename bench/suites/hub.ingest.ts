import { fork, spawn, type ChildProcess } from 'node:child_process';
import { HUB_RUNTIME_ENV } from '../../hub/runtime-settings.js';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { hashSecret, newSecret } from '../../hub/auth/secrets.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { deviceClientId } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { Report } from '../result.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DEVICES = Number(process.env.PDM_BENCH_DEVICES ?? 1000);
const EVENTS_PER_DEVICE = Number(process.env.PDM_BENCH_EVENTS ?? 20);
/** The paced phase: events per second spread over the fleet, for PACED_SECONDS, to see latency below saturation. */
const PACED_RATE = Number(process.env.PDM_BENCH_RATE ?? 1000);
const PACED_SECONDS = 5;

/** The same broker the hub embeds, with nothing behind it: no login, no ACL, no ingest, no disk. */
const BARE_AEDES = `
  import { createServer } from 'node:net';
  import { Aedes } from 'aedes';
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle).listen(0, '127.0.0.1', () => process.send({ mqttPort: server.address().port }));
`;

export function startBareAedes(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', BARE_AEDES], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve) => child.once('message', (m) => resolve({ child, port: (m as { mqttPort: number }).mqttPort })));
}

/** Extra node flags for the hub process only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/x` to profile it under this load. */
const HUB_NODE_ARGS = (process.env.PDM_BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function startHub(dataDir: string): Promise<{ child: ChildProcess; port: number; httpUrl: string }> {
  const child = fork(join(ROOT, 'dist', 'cli', 'pdm.js'), ['hub', '--config', join(ROOT, 'config', 'hub.yaml')], {
    execArgv: [...process.execArgv, ...HUB_NODE_ARGS],
    // The hub as shipped (hub/runtime-settings.ts, as the systemd unit and `pdm demo` start it).
    env: { ...process.env, ...HUB_RUNTIME_ENV, PDM_HUB_MQTT_HOST: '127.0.0.1', PDM_HUB_MQTT_PORT: '0', PDM_HUB_HTTP_PORT: '0', PDM_HUB_DATA_DIR: dataDir, PDM_HUB_LOG_LEVEL: 'warn', PDM_HUB_LOG_FILE: join(dataDir, 'hub.log') },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve) =>
    child.once('message', (m) => resolve({ child, port: (m as { mqttPort: number }).mqttPort, httpUrl: (m as { httpUrl: string }).httpUrl })),
  );
}

/** Mean arrival-to-durable time inside the hub, from its own /metrics histogram: what the hub adds, without the clients. */
async function hubIngestMeanMs(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{channel="event"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return (value('pdm_ingest_seconds_sum') / value('pdm_ingest_seconds_count')) * 1000;
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux; undefined elsewhere). Under a shared,
 * busy machine this moves far less than wall-clock throughput: it is what one message costs the broker process.
 */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces) start at ") "; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Connects the fleet, sends every device's events at once (QoS 1), and times each PUBACK. */
export interface Driven {
  /** Broker-process CPU microseconds per event of the burst, when its pid was given and /proc is there. */
  cpuMicrosPerEvent?: number;
  perSecond: number;
  p50: number;
  p99: number;
  pacedP50: number;
  pacedP99: number;
  connectSeconds: number;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function drive(port: number, password: string | undefined, brokerPid?: number): Promise<Driven> {
  const connectStart = performance.now();
  const clients: MqttClient[] = [];
  for (let batch = 0; batch < DEVICES; batch += 50) {
    const ids = Array.from({ length: Math.min(50, DEVICES - batch) }, (_, i) => `dev-${batch + i}`);
    clients.push(
      ...(await Promise.all(
        ids.map((device) =>
          mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            clientId: deviceClientId('bench', device),
            protocolVersion: 4,
            reconnectPeriod: 0,
            ...(password ? { username: deviceClientId('bench', device), password } : {}),
          }),
        ),
      )),
    );
  }
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const envelopes = clients.map((_, d) => createEnvelopeFactory({ site: 'bench', device: `dev-${d}` }));
  const episodes = clients.map(() => uuidv7());
  const event = (d: number) => {
    const env = envelopes[d]!;
    const e = env.next();
    return encode('event', { ...e, kind: 'anomaly', episodeId: episodes[d]!, asset: `asset-${d}`, score: 2, threshold: 1.5, severity: 'warning', model: { id: 'rms', version: '1' }, contributions: [{ feature: 'vibration.rms', value: 2, share: 1 }], windowStart: e.ts - 1000, windowEnd: e.ts });
  };
  const messages = clients.map((_, d) => Array.from({ length: EVENTS_PER_DEVICE }, () => event(d)));
  const latencies: number[] = [];
  const cpuBefore = cpuSecondsOf(brokerPid);
  const start = performance.now();
  await Promise.all(
    clients.flatMap((client, d) =>
      messages[d]!.map(async (m) => {
        const sent = performance.now();
        await client.publishAsync(m.topic, m.payload, { qos: 1 });
        latencies.push(performance.now() - sent);
      }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = cpuSecondsOf(brokerPid);
  const cpuMicrosPerEvent = cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1e6) / latencies.length : undefined;

  // Paced: a steady rate well below saturation, every 10 ms a slice, round-robin over the fleet.
  const paced: number[] = [];
  const pending: Array<Promise<void>> = [];
  let next = 0;
  const perTick = Math.max(1, Math.round(PACED_RATE / 100));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick; i += 1) {
        const d = next++ % clients.length;
        const m = event(d);
        const sent = performance.now();
        pending.push(clients[d]!.publishAsync(m.topic, m.payload, { qos: 1 }).then(() => void paced.push(performance.now() - sent)));
      }
    }, 10);
    setTimeout(() => {
      clearInterval(timer);
      resolve();
    }, PACED_SECONDS * 1000);
  });
  await Promise.all(pending);
  await Promise.all(clients.map((c) => c.endAsync()));
  return {
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    pacedP50: percentile(paced, 0.5),
    pacedP99: percentile(paced, 0.99),
    connectSeconds,
    ...(cpuMicrosPerEvent !== undefined ? { cpuMicrosPerEvent } : {}),
  };
}

/**
 * Ingest throughput of the real hub process (login, ACL, validation, dedup, correlation, durable write before every
 * PUBACK) with DEVICES simulated devices, against bare aedes under the same load in the same run.
 * The devices share one secret so the setup does not spend minutes in scrypt; each still logs in once.
 */
export async function run(report: Report): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdm-bench-hub-'));
  try {
    const secret = newSecret();
    const hash = await hashSecret(secret);
    const devices = Object.fromEntries(
      Array.from({ length: DEVICES }, (_, d) => [deviceClientId('bench', `dev-${d}`), { site: 'bench', device: `dev-${d}`, hash, createdAt: Date.now() }]),
    );
    await new DurableJsonFile(join(dataDir, 'identities.json')).write({ schema: 1, devices, users: {} });

    const bare = await startBareAedes();
    const baseline = await drive(bare.port, undefined, bare.child.pid);
    bare.child.kill('SIGTERM');

    const hub = await startHub(dataDir);
    const result = await drive(hub.port, secret, hub.child.pid);
    const insideMs = await hubIngestMeanMs(hub.httpUrl);
    hub.child.kill('SIGTERM');
    await new Promise((resolve) => hub.child.once('exit', resolve));

    const common = { devices: DEVICES, events: DEVICES * EVENTS_PER_DEVICE };
    report({ bench: 'hub.ingest', metric: 'events_per_second', value: Math.round(result.perSecond), unit: 'msg/s', baseline: Math.round(baseline.perSecond), ratio: Number((result.perSecond / baseline.perSecond).toFixed(3)), target: 20_000, ...common });
    const ms = (x: number) => Number(x.toFixed(1));
    report({ bench: 'hub.ingest', metric: 'burst_puback_p99', value: ms(result.p99), unit: 'ms', baseline: ms(baseline.p99), ratio: Number((result.p99 / baseline.p99).toFixed(3)), p50: ms(result.p50), note: 'all events queued at once: mostly queueing', ...common });
    report({ bench: 'hub.ingest', metric: 'event_to_inspection_p99', value: ms(result.pacedP99), unit: 'ms', baseline: ms(baseline.pacedP99), ratio: Number((result.pacedP99 / baseline.pacedP99).toFixed(3)), p50: ms(result.pacedP50), rate: PACED_RATE, target: 50, devices: DEVICES });
    report({ bench: 'hub.ingest', metric: 'hub_ingest_mean', value: ms(insideMs), unit: 'ms', note: 'arrival to durable commit inside the hub, both phases', ...common });
    if (result.cpuMicrosPerEvent !== undefined && baseline.cpuMicrosPerEvent !== undefined) {
      const us = (x: number) => Number(x.toFixed(1));
      report({ bench: 'hub.ingest', metric: 'burst_cpu_per_event', value: us(result.cpuMicrosPerEvent), unit: 'us', baseline: us(baseline.cpuMicrosPerEvent), ratio: Number((result.cpuMicrosPerEvent / baseline.cpuMicrosPerEvent).toFixed(3)), note: 'broker process CPU (user+sys) during the burst / events; 10 ms tick resolution', ...common });
    }
    report({ bench: 'hub.ingest', metric: 'fleet_connect_seconds', value: Number(result.connectSeconds.toFixed(2)), unit: 's', baseline: Number(baseline.connectSeconds.toFixed(2)), ratio: Number((result.connectSeconds / baseline.connectSeconds).toFixed(3)), ...common });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
