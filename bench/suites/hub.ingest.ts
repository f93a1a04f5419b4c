import { fork, spawn, type ChildProcess } from 'node:child_process';
import { HUB_NODE_FLAGS, HUB_RUNTIME_ENV } from '../../hub/runtime-settings.js';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVICE_SCRYPT, hashSecret, newSecret } from '../../hub/auth/secrets.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { deviceClientId } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { LeanMqttClient } from '../lean-mqtt.js';
import { pace } from '../pace.js';
import { median, type Report } from '../result.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DEVICES = Number(process.env.PDM_BENCH_DEVICES ?? 1000);
const EVENTS_PER_DEVICE = Number(process.env.PDM_BENCH_EVENTS ?? 20);
/** Bursts per broker, alternating between the two. */
const ROUNDS = Math.max(1, Number(process.env.PDM_BENCH_ROUNDS ?? 5));
/**
 * The paced phases: events per second spread over the fleet, for PACED_SECONDS each: the target's rate (latency
 * under that load) and a light one.
 */
const PACED_RATE = Number(process.env.PDM_BENCH_RATE ?? 20_000);
const LIGHT_RATE = 1000;
/** The steady phase at the target's rate runs this long: long enough for the journal to outgrow a snapshot. */
const PACED_TARGET_SECONDS = Number(process.env.PDM_BENCH_PACED_SECONDS ?? 15);
const PACED_SECONDS = 5;
/** How often /metrics is read while the hub takes its warm-up bursts (`whileScraped`). */
const SCRAPE_MS = 100;
/** `PDM_BENCH_TIMELINE=1`: the steady phase's PUBACK latency second by second too (where a stall sits in the phase). */
const TIMELINE = process.env.PDM_BENCH_TIMELINE === '1';

/** The same broker the hub embeds, with nothing behind it: no login, no ACL, no ingest, no disk. */
const BARE_AEDES = `
  import { createServer } from 'node:net';
  import { Aedes } from 'aedes';
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle).listen(0, '127.0.0.1', () => process.send({ mqttPort: server.address().port }));
`;

export function startBareAedes(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', BARE_AEDES], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve) =>
    child.once('message', (m) => resolve({ child, port: (m as { mqttPort: number }).mqttPort })),
  );
}

/** The bench fleet's devices in `dataDir`'s identities, sharing one secret (returned) so setup spends no minutes in scrypt. */
export async function provisionFleet(dataDir: string): Promise<string> {
  const secret = newSecret();
  const hash = await hashSecret(secret, DEVICE_SCRYPT);
  const devices = Object.fromEntries(
    Array.from({ length: DEVICES }, (_, d) => [
      deviceClientId('bench', `dev-${d}`),
      { site: 'bench', device: `dev-${d}`, hash, createdAt: Date.now() },
    ]),
  );
  await new DurableJsonFile(join(dataDir, 'identities.json')).write({ schema: 1, devices, users: {} });
  return secret;
}

/** Extra node flags for the hub process only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/x` to profile it under this load. */
const EXTRA_HUB_ARGS = (process.env.PDM_BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean);

export async function startHub(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number; httpUrl: string }> {
  const child = fork(join(ROOT, 'dist', 'cli', 'pdm.js'), ['hub', '--config', join(ROOT, 'config', 'hub.yaml')], {
    execArgv: [...process.execArgv, ...HUB_NODE_FLAGS, ...EXTRA_HUB_ARGS],
    // The hub as shipped (hub/runtime-settings.ts, as the systemd unit and `pdm demo` start it).
    env: {
      ...process.env,
      ...HUB_RUNTIME_ENV,
      PDM_HUB_MQTT_HOST: '127.0.0.1',
      PDM_HUB_MQTT_PORT: '0',
      PDM_HUB_HTTP_PORT: '0',
      PDM_HUB_DATA_DIR: dataDir,
      PDM_HUB_LOG_LEVEL: 'warn',
      PDM_HUB_LOG_FILE: join(dataDir, 'hub.log'),
      // The whole fleet logs in from 127.0.0.1, 50 at a time (Fleet.connect): more than one address's default.
      PDM_HUB_MQTT_LIMITS_MAX_PENDING_PER_ADDRESS: '256',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    // A hub that fails to start (its reason is on stderr) must not leave the benchmark waiting.
    const exited = (code: number | null) => reject(new Error(`the hub exited with code ${code} before it was ready`));
    child.once('exit', exited);
    child.once('message', (m) => {
      child.off('exit', exited);
      resolve({ child, port: (m as { mqttPort: number }).mqttPort, httpUrl: (m as { httpUrl: string }).httpUrl });
    });
  });
}

/** The hub's /metrics, read once: a lookup of one series by its name and labels as printed (NaN if absent). */
export async function hubMetrics(httpUrl: string): Promise<(series: string) => number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return (series) => values.get(series) ?? NaN;
}

/**
 * Runs `work` while /metrics is read every SCRAPE_MS, as Prometheus and the dashboard read a hub that devices keep
 * busy. Without it the hub's first HTTP request after a burst (the read of its counters before the steady phase)
 * met stream code V8 had compiled for MQTT sockets alone: that code was thrown away ("wrong map") and the phase's
 * first few hundred milliseconds ran while it was compiled again, a start no hub serving its dashboard has.
 */
async function whileScraped<T>(httpUrl: string, work: () => Promise<T>): Promise<T> {
  const scrape = setInterval(() => void hubMetrics(httpUrl).catch(() => undefined), SCRAPE_MS);
  try {
    return await work();
  } finally {
    clearInterval(scrape);
  }
}

/** Mean arrival-to-durable time inside the hub, from its own /metrics histogram: what the hub adds, without the clients. */
async function hubIngestMeanMs(httpUrl: string): Promise<number> {
  const value = await hubMetrics(httpUrl);
  return (value('pdm_ingest_seconds_sum{channel="event"}') / value('pdm_ingest_seconds_count{channel="event"}')) * 1000;
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux; undefined elsewhere). Under a shared,
 * busy machine this moves far less than wall-clock throughput: it is what one message costs the broker process.
 * `thread: 'main'` counts only its main thread (the event loop that reads sockets, ingests and acknowledges), whose
 * thread id is the process id.
 */
export function cpuSecondsOf(pid: number | undefined, thread: 'all' | 'main' = 'all'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces) start at ") "; utime and stime are fields 14 and 15.
    const stat = readFileSync(thread === 'main' ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** CPU seconds all cores of the machine have spent busy so far (not idle, not waiting for I/O), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    // "cpu  user nice system idle iowait irq softirq steal ...", in USER_HZ (100 on Linux).
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return undefined;
  }
}

/** Payloads packed into 16 MiB buffers outside the JS heap, read back as views by their order of adding. */
export class MessageArena {
  private readonly chunks: Buffer[] = [];
  private readonly chunkOf: Uint16Array;
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private count = 0;
  private used = 0;

  constructor(capacity: number) {
    this.chunkOf = new Uint16Array(capacity);
    this.starts = new Uint32Array(capacity);
    this.ends = new Uint32Array(capacity);
  }

  add(payload: Buffer): void {
    let chunk = this.chunks.at(-1);
    if (!chunk || this.used + payload.length > chunk.length) {
      this.chunks.push((chunk = Buffer.allocUnsafeSlow(Math.max(16 << 20, payload.length))));
      this.used = 0;
    }
    payload.copy(chunk, this.used);
    this.chunkOf[this.count] = this.chunks.length - 1;
    this.starts[this.count] = this.used;
    this.ends[this.count] = this.used += payload.length;
    this.count += 1;
  }

  get(i: number): Buffer {
    return this.chunks[this.chunkOf[i]!]!.subarray(this.starts[i], this.ends[i]);
  }
}

/** One burst: every device's events at once (QoS 1), each PUBACK timed. */
export interface Burst {
  perSecond: number;
  p50: number;
  p99: number;
  /** Broker-process CPU microseconds per event of the burst, when its pid was given and /proc is there. */
  cpuMicrosPerEvent?: number;
}

export function percentile(values: Iterable<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The latencies of the messages sent in each second (by their send time from the phase's start, in ms). */
function bySecond(sentAt: Float64Array, latencies: Float64Array): NonNullable<PacedResult['timeline']> {
  const seconds: number[][] = [];
  for (let i = 0; i < sentAt.length; i++) (seconds[Math.floor(sentAt[i]! / 1000)] ??= []).push(latencies[i]!);
  return seconds.map((l, second) => ({
    second,
    p50: percentile(l, 0.5),
    p99: percentile(l, 0.99),
    max: Math.max(...l),
  }));
}

/** A paced phase: PUBACK latency, the rate reached, and the cores used meanwhile (where /proc tells). */
export interface PacedResult {
  p50: number;
  p99: number;
  rate: number;
  /** The broker process, all its threads. */
  cpuShare?: number;
  /** Its main thread alone. */
  mainThreadShare?: number;
  /** The whole machine: the broker, this load process and anything else running. */
  machineShare?: number;
  /** This load process. */
  loadShare: number;
  /** How long the phase took, sending to the last PUBACK. */
  seconds: number;
  /** With PDM_BENCH_TIMELINE=1: the PUBACK latency of the messages sent in each second of the phase. */
  timeline?: Array<{ second: number; p50: number; p99: number; max: number }>;
}

/** DEVICES simulated devices connected to one broker, each with its own envelope sequence and open anomaly episode. */
export class Fleet {
  private constructor(
    private readonly clients: LeanMqttClient[],
    readonly connectSeconds: number,
    private readonly brokerPid: number | undefined,
  ) {}

  private readonly envelopes = Array.from({ length: DEVICES }, (_, d) =>
    createEnvelopeFactory({ site: 'bench', device: `dev-${d}` }),
  );
  private readonly episodes = Array.from({ length: DEVICES }, () => uuidv7());

  static async connect(port: number, password: string | undefined, brokerPid?: number): Promise<Fleet> {
    const connectStart = performance.now();
    const clients: LeanMqttClient[] = [];
    for (let batch = 0; batch < DEVICES; batch += 50) {
      const ids = Array.from({ length: Math.min(50, DEVICES - batch) }, (_, i) => `dev-${batch + i}`);
      clients.push(
        ...(await Promise.all(
          ids.map((device) => {
            const clientId = deviceClientId('bench', device);
            return LeanMqttClient.connect(port, { clientId, ...(password ? { username: clientId, password } : {}) });
          }),
        )),
      );
    }
    return new Fleet(clients, (performance.now() - connectStart) / 1000, brokerPid);
  }

  private event(d: number) {
    const e = this.envelopes[d]!.next();
    return encode('event', {
      ...e,
      kind: 'anomaly',
      episodeId: this.episodes[d]!,
      asset: `asset-${d}`,
      score: 2,
      threshold: 1.5,
      severity: 'warning',
      model: { id: 'rms', version: '1' },
      contributions: [{ feature: 'vibration.rms', value: 2, share: 1 }],
      windowStart: e.ts - 1000,
      windowEnd: e.ts,
    });
  }

  /** EVENTS_PER_DEVICE new events from every device at once; resolves when every PUBACK is in. */
  async burst(): Promise<Burst> {
    const messages = this.clients.map((_, d) => Array.from({ length: EVENTS_PER_DEVICE }, () => this.event(d)));
    const latencies: number[] = [];
    const cpuBefore = cpuSecondsOf(this.brokerPid);
    const start = performance.now();
    await Promise.all(
      this.clients.flatMap((client, d) =>
        messages[d]!.map(async (m) => {
          const sent = performance.now();
          await client.publish(m.topic, m.payload);
          latencies.push(performance.now() - sent);
        }),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    const cpuAfter = cpuSecondsOf(this.brokerPid);
    return {
      perSecond: latencies.length / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      ...(cpuBefore !== undefined && cpuAfter !== undefined
        ? { cpuMicrosPerEvent: ((cpuAfter - cpuBefore) * 1e6) / latencies.length }
        : {}),
    };
  }

  /**
   * A steady rate, round-robin over the fleet: every 10 ms, as many new events as the rate says should have gone
   * out by then. They are built beforehand (so building them does not delay the sending) into a few large buffers
   * outside the JS heap, and each PUBACK is timed into a typed array: with hundreds of thousands of messages held as
   * objects, the load process's own garbage collection paused it for up to 260 ms, which showed up as the broker's
   * latency, bare aedes' included. PUBACK latency p50/p99, and the rate reached. `atStart` runs once the messages
   * are built, just before the first is sent (a read of the broker's counters).
   */
  async paced(rate: number, seconds = PACED_SECONDS, atStart?: () => Promise<void>): Promise<PacedResult> {
    const total = Math.round(rate * seconds);
    const arena = new MessageArena(total);
    const topics: string[] = [];
    for (let i = 0; i < total; i += 1) {
      const { topic, payload } = this.event(i % this.clients.length);
      topics[i % this.clients.length] = topic;
      arena.add(payload);
    }
    const latencies = new Float64Array(total);
    const sentAt = new Float64Array(TIMELINE ? total : 0);
    await atStart?.();
    const cpuBefore = cpuSecondsOf(this.brokerPid);
    const mainBefore = cpuSecondsOf(this.brokerPid, 'main');
    const machineBefore = machineBusySeconds();
    const loadBefore = process.cpuUsage();
    const clients = this.clients;
    const { start, sendEnd } = await pace({
      rate,
      total,
      tickMs: 10,
      now: () => performance.now(),
      send: (i, acked) => {
        const d = i % clients.length;
        const at = performance.now();
        if (TIMELINE) sentAt[i] = at; // made relative to the start below
        return clients[d]!.send(topics[d]!, arena.get(i), () => {
          latencies[i] = performance.now() - at;
          acked();
        });
      },
    });
    for (let i = 0; i < sentAt.length; i++) sentAt[i]! -= start;
    const sending = (sendEnd - start) / 1000;
    const elapsed = (performance.now() - start) / 1000;
    const share = (before: number | undefined, after: number | undefined) =>
      before !== undefined && after !== undefined ? (after - before) / elapsed : undefined;
    const cpuShare = share(cpuBefore, cpuSecondsOf(this.brokerPid));
    const mainThreadShare = share(mainBefore, cpuSecondsOf(this.brokerPid, 'main'));
    const machineShare = share(machineBefore, machineBusySeconds());
    const load = process.cpuUsage(loadBefore);
    const loadShare = (load.user + load.system) / 1e6 / elapsed;
    return {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      rate: total / (sending || elapsed),
      ...(cpuShare !== undefined ? { cpuShare } : {}),
      ...(mainThreadShare !== undefined ? { mainThreadShare } : {}),
      ...(machineShare !== undefined ? { machineShare } : {}),
      loadShare,
      seconds: elapsed,
      ...(TIMELINE ? { timeline: bySecond(sentAt, latencies) } : {}),
    };
  }

  async end(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.end()));
  }
}

/** One burst and the paced phase over a freshly connected fleet (the broker comparison's load). */
export async function drive(
  port: number,
  password: string | undefined,
): Promise<Burst & { pacedP99: number; connectSeconds: number }> {
  const fleet = await Fleet.connect(port, password);
  const burst = await fleet.burst();
  const paced = await fleet.paced(LIGHT_RATE);
  await fleet.end();
  return { ...burst, pacedP99: paced.p99, connectSeconds: fleet.connectSeconds };
}

/**
 * Ingest throughput of the real hub process (login, ACL, validation, dedup, correlation, durable write before every
 * PUBACK) with DEVICES simulated devices, against bare aedes under the same load in the same run. Both brokers run
 * side by side with a fleet connected to each, and the bursts alternate (bare, hub, bare, hub, ...) for ROUNDS
 * rounds: one burst of 20,000 events lasts about a second, so on a shared machine a single one says little; the
 * medians and the slowest round do. Later rounds join the inspections the first opened (the correlation window),
 * as a fleet with active incidents does. The devices share one secret so the setup does not spend minutes in
 * scrypt; each still logs in once.
 */
export async function run(report: Report): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdm-bench-hub-'));
  try {
    const secret = await provisionFleet(dataDir);

    const bare = await startBareAedes();
    const hub = await startHub(dataDir).catch((error: unknown) => {
      bare.child.kill('SIGTERM');
      throw error;
    });
    const bareFleet = await Fleet.connect(bare.port, undefined, bare.child.pid);
    const hubFleet = await Fleet.connect(hub.port, secret, hub.child.pid);
    const bareBursts: Burst[] = [];
    const hubBursts: Burst[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      bareBursts.push(await bareFleet.burst());
      hubBursts.push(await whileScraped(hub.httpUrl, () => hubFleet.burst()));
    }
    const barePaced = await bareFleet.paced(PACED_RATE, PACED_TARGET_SECONDS);
    /** The hub's snapshots so far and its event loop's busy seconds, from one read of /metrics. */
    const counters = async () => {
      const value = await hubMetrics(hub.httpUrl);
      return {
        snapshots: value('pdm_store_snapshots_total'),
        busy: value('pdm_hub_event_loop_busy_seconds_total'),
        at: performance.now(),
      };
    };
    // Read just before the first message and just after the last PUBACK: the loop's busy share over the phase alone
    // (not over building its messages, when the hub idles).
    let before = { snapshots: NaN, busy: NaN, at: NaN };
    const hubPaced = await hubFleet.paced(PACED_RATE, PACED_TARGET_SECONDS, async () => {
      before = await counters();
    });
    const after = await counters();
    const loopBusy = (after.busy - before.busy) / ((after.at - before.at) / 1000);
    const snapshots = after.snapshots - before.snapshots;
    const bareLight = await bareFleet.paced(LIGHT_RATE);
    const hubLight = await hubFleet.paced(LIGHT_RATE);
    const lightSnapshots = (await counters()).snapshots - after.snapshots;
    await Promise.all([bareFleet.end(), hubFleet.end()]);
    bare.child.kill('SIGTERM');
    const insideMs = await hubIngestMeanMs(hub.httpUrl);
    hub.child.kill('SIGTERM');
    await new Promise((resolve) => hub.child.once('exit', resolve));

    const common = { devices: DEVICES, events: DEVICES * EVENTS_PER_DEVICE, rounds: ROUNDS };
    const rate = (bursts: Burst[]) => bursts.map((b) => Math.round(b.perSecond));
    const hubRate = median(hubBursts.map((b) => b.perSecond));
    const bareRate = median(bareBursts.map((b) => b.perSecond));
    report({
      bench: 'hub.ingest',
      metric: 'events_per_second',
      value: Math.round(hubRate),
      unit: 'msg/s',
      baseline: Math.round(bareRate),
      ratio: Number((hubRate / bareRate).toFixed(3)),
      target: 20_000,
      slowest: Math.min(...rate(hubBursts)),
      runs: rate(hubBursts),
      baselineRuns: rate(bareBursts),
      note: 'median burst of the rounds',
      ...common,
    });
    const ms = (x: number) => Number(x.toFixed(1));
    const cores = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(2)));
    const p99 = median(hubBursts.map((b) => b.p99));
    const bareP99 = median(bareBursts.map((b) => b.p99));
    report({
      bench: 'hub.ingest',
      metric: 'burst_puback_p99',
      value: ms(p99),
      unit: 'ms',
      baseline: ms(bareP99),
      ratio: Number((p99 / bareP99).toFixed(3)),
      p50: ms(median(hubBursts.map((b) => b.p50))),
      note: 'all events queued at once: mostly queueing; median of the rounds',
      ...common,
    });
    report({
      bench: 'hub.ingest',
      metric: 'event_to_inspection_p99',
      value: ms(hubPaced.p99),
      unit: 'ms',
      baseline: ms(barePaced.p99),
      ratio: Number((hubPaced.p99 / barePaced.p99).toFixed(3)),
      p50: ms(hubPaced.p50),
      rate: PACED_RATE,
      reached: Math.round(hubPaced.rate),
      brokerCores: cores(hubPaced.cpuShare),
      baselineCores: cores(barePaced.cpuShare),
      mainThreadCores: cores(hubPaced.mainThreadShare),
      eventLoopUtilisation: cores(loopBusy),
      loadCores: cores(hubPaced.loadShare),
      machineCoresBusy: cores(hubPaced.machineShare),
      machineCores: availableParallelism(),
      seconds: PACED_TARGET_SECONDS,
      snapshots,
      target: 50,
      note: 'PUBACK (after the journal fsync) at a steady rate',
      devices: DEVICES,
    });
    for (const [broker, paced] of [
      ['bare', barePaced],
      ['hub', hubPaced],
    ] as const) {
      for (const t of paced.timeline ?? [])
        report({
          bench: 'hub.ingest',
          metric: 'event_to_inspection_second',
          value: ms(t.p99),
          unit: 'ms',
          broker,
          second: t.second,
          p50: ms(t.p50),
          max: ms(t.max),
          rate: PACED_RATE,
        });
    }
    report({
      bench: 'hub.ingest',
      metric: 'event_to_inspection_p99_light',
      value: ms(hubLight.p99),
      unit: 'ms',
      baseline: ms(bareLight.p99),
      ratio: Number((hubLight.p99 / bareLight.p99).toFixed(3)),
      p50: ms(hubLight.p50),
      rate: LIGHT_RATE,
      snapshots: lightSnapshots,
      devices: DEVICES,
    });
    report({
      bench: 'hub.ingest',
      metric: 'hub_ingest_mean',
      value: ms(insideMs),
      unit: 'ms',
      note: 'arrival to durable commit inside the hub, all rounds and the paced phases',
      ...common,
    });
    const cpu = (bursts: Burst[]) => bursts.map((b) => b.cpuMicrosPerEvent).filter((x): x is number => x !== undefined);
    if (cpu(hubBursts).length === ROUNDS && cpu(bareBursts).length === ROUNDS) {
      const us = (x: number) => Number(x.toFixed(1));
      const hubCpu = median(cpu(hubBursts));
      const bareCpu = median(cpu(bareBursts));
      report({
        bench: 'hub.ingest',
        metric: 'burst_cpu_per_event',
        value: us(hubCpu),
        unit: 'us',
        baseline: us(bareCpu),
        ratio: Number((hubCpu / bareCpu).toFixed(3)),
        runs: cpu(hubBursts).map(us),
        baselineRuns: cpu(bareBursts).map(us),
        note: 'broker process CPU (user+sys) during a burst / its events, median of the rounds; 10 ms tick resolution',
        ...common,
      });
    }
    report({
      bench: 'hub.ingest',
      metric: 'fleet_connect_seconds',
      value: Number(hubFleet.connectSeconds.toFixed(2)),
      unit: 's',
      baseline: Number(bareFleet.connectSeconds.toFixed(2)),
      ratio: Number((hubFleet.connectSeconds / bareFleet.connectSeconds).toFixed(3)),
      ...common,
    });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
