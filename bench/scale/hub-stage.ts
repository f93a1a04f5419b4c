import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, loginSession, runPdm } from '../../testkit/processes.js';
import { cpuSecondsOf, hubMetrics, startHub } from '../suites/hub.ingest.js';
import { monoMs, ScaleFleet } from './load.js';
import { startMosquitto } from './mosquitto.js';
import { ProbeWatcher } from './probes.js';

export interface HubStageOptions {
  rate: number;
  seconds: number;
  devices: number;
  /** How long after the last send the hub may take to catch up before it counts as fallen behind. */
  drainMs: number;
  probesPerSecond: number;
  pollMs: number;
  /** Numbers the stage's probes apart from earlier stages' (bench/scale/probes.ts). */
  stage: number;
  home: HubHome;
}

/**
 * The data folder and database every stage's hub opens in turn: the fleet's inspections, opened once by the first
 * stage's warm-up, stay open for the later ones, which need no warm-up of their own.
 */
export interface HubHome {
  dataDir: string;
  databaseUrl: string;
  warmedUp: boolean;
  remove(): Promise<void>;
}

export interface HubStageResult {
  offered: number;
  sent: number;
  sendRate: number;
  /** Events the hub stored (its pdm_ingest_seconds_count) from the first send to the end of the drain. */
  processed: number;
  perSecond: number;
  /** Mean arrival-to-durable-commit inside the hub over the phase: 1000 / this is its rate if it takes one at a time. */
  ingestMeanMs: number | undefined;
  fellBehind: boolean;
  /** The hub process's CPU over the phase per stored event, the probes' API polls included. */
  hubCpuMicrosPerEvent: number | undefined;
  /** The probes' requests, and their share of that CPU per event (their count × one poll's CPU, `cpuPerPoll`). */
  apiPolls: number;
  pollCpuMicrosPerEvent: number | undefined;
  hubCores: number | undefined;
  brokerCores: number | undefined;
  loadCores: number;
  probes: { sent: number; seen: number; p50: number; p99: number };
  seconds: number;
}

const USER = 'bench';
const PASSWORD = 'bench-scale-password';

/** Events the hub has stored so far, and the seconds they took in all from arrival to durable commit (its /metrics). */
async function ingested(httpUrl: string): Promise<{ count: number; seconds: number }> {
  const value = await hubMetrics(httpUrl);
  const count = value('pdm_ingest_seconds_count{channel="event"}');
  const seconds = value('pdm_ingest_seconds_sum{channel="event"}');
  return Number.isNaN(count) ? { count: 0, seconds: 0 } : { count, seconds };
}

/** A data folder with one viewer (for the probes' API reads) over `databaseUrl`. */
export async function prepareHubHome(databaseUrl: string): Promise<HubHome> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdm-bench-scale-hub-'));
  const remove = () => rm(dataDir, { recursive: true, force: true });
  const env = { PDM_HUB_STORE_ENGINE: 'postgres', PDM_HUB_STORE_URL: databaseUrl, PDM_HUB_DATA_DIR: dataDir };
  const added = await runPdm(['hub', 'user', 'add', USER, '--role', 'viewer'], { ...env, PDM_USER_PASSWORD: PASSWORD });
  if (added.code !== 0) {
    await remove();
    throw new Error(`pdm hub user add: ${added.stderr}`);
  }
  return { dataDir, databaseUrl, warmedUp: false, remove };
}

/** Polls `done` every 100 ms until it holds or `ms` have passed; whether it held. */
async function within(ms: number, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** CPU seconds one API poll costs the hub process, from 300 polls before the load starts (/proc ticks are 10 ms). */
async function cpuPerPoll(pid: number | undefined, watcher: ProbeWatcher): Promise<number | undefined> {
  const count = 300;
  const before = cpuSecondsOf(pid);
  await watcher.calibrate(count);
  const after = cpuSecondsOf(pid);
  return before !== undefined && after !== undefined ? (after - before) / count : undefined;
}

async function stopHub(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  // A hub with a backlog at the broker may take long to close cleanly; its figures are taken already.
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited(child);
  clearTimeout(timer);
}

/**
 * One hub process (`store.engine: postgres`, `mqtt.mode: external`) over `home`, behind a fresh mosquitto (so no
 * backlog of an earlier stage reaches it), `devices` publishing at `rate` for `seconds`. Mosquitto authenticates
 * nobody here (the hub trusts the broker's login in external mode), so no device is provisioned. Every process is
 * ended on return.
 */
export async function runHubStage(opts: HubStageOptions): Promise<HubStageResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const { home } = opts;
  const broker = await startMosquitto(total + opts.devices);
  let hub: ChildProcess | undefined;
  let fleet: ScaleFleet | undefined;
  let watcher: ProbeWatcher | undefined;
  try {
    const store = { PDM_HUB_STORE_ENGINE: 'postgres', PDM_HUB_STORE_URL: home.databaseUrl };
    const started = await startHub(home.dataDir, {
      ...store,
      PDM_HUB_MQTT_MODE: 'external',
      PDM_HUB_MQTT_EXTERNAL_URL: `mqtt://127.0.0.1:${broker.port}`,
      PDM_HUB_MQTT_EXTERNAL_CLIENT_ID: 'pdm-hub-scale',
    });
    hub = started.child;
    const { httpUrl } = started;
    watcher = new ProbeWatcher(opts.stage, httpUrl, await loginSession(httpUrl, USER, PASSWORD), opts.pollMs);
    fleet = await ScaleFleet.connect(broker.port, opts.devices);
    if (!home.warmedUp) {
      // Every device's first event opens its asset's inspection; the phases then measure events that join them.
      await fleet.once();
      if (!(await within(60_000, async () => (await ingested(httpUrl)).count >= opts.devices)))
        throw new Error(`the hub did not store the fleet's first ${opts.devices} events within 60 s`);
      home.warmedUp = true;
    }
    const probes = watcher;
    const hubCpuPerPoll = await cpuPerPoll(hub.pid, probes);
    const before = await ingested(httpUrl);
    const hubBefore = cpuSecondsOf(hub.pid);
    const brokerBefore = cpuSecondsOf(broker.pid);
    const pollsBefore = probes.polls;
    probes.start();
    // At most one event in 10 a probe: the rest join inspections that exist, as most events of a fleet do.
    const every = Math.max(10, Math.round(opts.rate / opts.probesPerSecond));
    const load = await fleet.steady({
      rate: opts.rate,
      seconds: opts.seconds,
      probes: { every, asset: (n) => probes.asset(n), sent: (n, at) => probes.sent(n, at) },
      ackWaitMs: opts.drainMs,
    });
    let processed = 0;
    let ingestSeconds = 0;
    let endAt = 0;
    const caughtUp = await within(opts.drainMs, async () => {
      const now = await ingested(httpUrl);
      processed = now.count - before.count;
      ingestSeconds = now.seconds - before.seconds;
      endAt = monoMs();
      const { sent, seen } = probes.progress;
      return processed >= load.sent && seen >= sent;
    });
    const hubAfter = cpuSecondsOf(hub.pid);
    const brokerAfter = cpuSecondsOf(broker.pid);
    const seconds = (endAt - load.startedAt) / 1000;
    const delta = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? b - a : undefined;
    const hubCpu = delta(hubBefore, hubAfter);
    const polls = probes.polls - pollsBefore;
    const pollCpu = hubCpuPerPoll !== undefined ? polls * hubCpuPerPoll : undefined;
    const brokerCpu = delta(brokerBefore, brokerAfter);
    return {
      offered: opts.rate,
      sent: load.sent,
      sendRate: load.sendRate,
      processed,
      perSecond: processed / seconds,
      ingestMeanMs: processed > 0 ? (ingestSeconds * 1000) / processed : undefined,
      fellBehind: !caughtUp,
      hubCpuMicrosPerEvent: hubCpu !== undefined && processed > 0 ? (hubCpu * 1e6) / processed : undefined,
      apiPolls: polls,
      pollCpuMicrosPerEvent: pollCpu !== undefined && processed > 0 ? (pollCpu * 1e6) / processed : undefined,
      hubCores: hubCpu !== undefined ? hubCpu / seconds : undefined,
      brokerCores: brokerCpu !== undefined ? brokerCpu / seconds : undefined,
      loadCores: load.loadCpuSeconds / load.seconds,
      probes: await probes.stop(),
      seconds,
    };
  } finally {
    await watcher?.stop().catch(() => undefined);
    await fleet?.end().catch(() => undefined);
    if (hub) await stopHub(hub);
    await broker.stop();
  }
}
