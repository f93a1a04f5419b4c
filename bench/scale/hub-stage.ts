import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPdm, loginSession } from '../../testkit/processes.js';
import { cpuSecondsOf } from '../suites/hub.ingest.js';
import { HubSet, type ClusterMode } from './hubs.js';
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
  mode: ClusterMode;
  /** Hub processes on the one database and broker (1 in single mode). */
  processes: number;
}

/**
 * The data folder and database a stage's hubs open. Single mode keeps one for all its stages: the fleet's inspections,
 * opened once by the first stage's warm-up, stay open for the later ones. Shared mode makes one per stage.
 */
export interface HubHome {
  dataDir: string;
  databaseUrl: string;
  warmedUp: boolean;
  remove(): Promise<void>;
}

export interface HubStageResult {
  mode: ClusterMode;
  processes: number;
  offered: number;
  sent: number;
  sendRate: number;
  /** Events the hubs stored (their pdm_ingest_seconds_count, summed) from the first send to the end of the drain. */
  processed: number;
  /** Of those, how many each process stored. */
  processedBy: number[];
  perSecond: number;
  /** Mean arrival-to-durable-commit inside the hub over the phase: 1000 / this is its rate if it takes one at a time. */
  ingestMeanMs: number | undefined;
  fellBehind: boolean;
  /** The hub processes' CPU (summed) over the phase per stored event, the probes' API polls included. */
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

/** A data folder with one viewer (for the probes' API reads) over `databaseUrl`. */
export async function prepareHubHome(databaseUrl: string): Promise<HubHome> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdm-bench-scale-hub-'));
  const remove = () => rm(dataDir, { recursive: true, force: true });
  const env = { PDM_HUB_STORE_ENGINE: 'postgres', PDM_HUB_STORE_URL: databaseUrl, PDM_HUB_DATA_DIR: dataDir };
  // Into the data folder's identities (single mode) and the database's (shared mode: cluster.mode shared reads those).
  const shared = { PDM_HUB_CLUSTER_MODE: 'shared', PDM_HUB_CLUSTER_INSTANCE: 'bench', PDM_HUB_MQTT_MODE: 'external' };
  for (const where of [{}, shared]) {
    const added = await runPdm(['hub', 'user', 'add', USER, '--role', 'viewer'], {
      ...env,
      ...where,
      PDM_USER_PASSWORD: PASSWORD,
    });
    if (added.code !== 0) {
      await remove();
      throw new Error(`pdm hub user add: ${added.stderr}`);
    }
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

/**
 * `processes` hub processes (`store.engine: postgres`, `mqtt.mode: external`, `cluster.mode` as `mode` says) over
 * `home`, behind a fresh mosquitto (so no backlog of an earlier stage reaches them), `devices` publishing at `rate`
 * for `seconds`. Mosquitto authenticates nobody here (the hub trusts the broker's login in external mode), so no
 * device is provisioned. Every process is ended on return.
 */
export async function runHubStage(opts: HubStageOptions): Promise<HubStageResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const { home } = opts;
  const broker = await startMosquitto(total + opts.devices);
  let hubs: HubSet | undefined;
  let fleet: ScaleFleet | undefined;
  let watcher: ProbeWatcher | undefined;
  try {
    hubs = await HubSet.start({ ...opts, ...home, brokerPort: broker.port });
    const { httpUrl } = hubs;
    const ingested = () => hubs!.ingested();
    watcher = new ProbeWatcher(opts.stage, httpUrl, await loginSession(httpUrl, USER, PASSWORD), opts.pollMs);
    fleet = await ScaleFleet.connect(broker.port, opts.devices);
    if (!home.warmedUp) {
      // Every device's first event opens its asset's inspection; the phases then measure events that join them.
      await fleet.once();
      if (!(await within(60_000, async () => (await ingested()).count >= opts.devices)))
        throw new Error(`the hubs did not store the fleet's first ${opts.devices} events within 60 s`);
      home.warmedUp = true;
    }
    const probes = watcher;
    const hubCpuPerPoll = await cpuPerPoll(hubs.firstPid, probes);
    const before = await ingested();
    const hubBefore = hubs.cpuSeconds();
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
    let processedBy: number[] = [];
    let ingestSeconds = 0;
    let endAt = 0;
    const caughtUp = await within(opts.drainMs, async () => {
      const now = await ingested();
      processed = now.count - before.count;
      processedBy = now.each.map((n, i) => n - before.each[i]!);
      ingestSeconds = now.seconds - before.seconds;
      endAt = monoMs();
      const { sent, seen } = probes.progress;
      return processed >= load.sent && seen >= sent;
    });
    const hubAfter = hubs.cpuSeconds();
    const brokerAfter = cpuSecondsOf(broker.pid);
    const seconds = (endAt - load.startedAt) / 1000;
    const delta = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? b - a : undefined;
    const hubCpu = delta(hubBefore, hubAfter);
    const polls = probes.polls - pollsBefore;
    const pollCpu = hubCpuPerPoll !== undefined ? polls * hubCpuPerPoll : undefined;
    const brokerCpu = delta(brokerBefore, brokerAfter);
    return {
      mode: opts.mode,
      processes: opts.processes,
      offered: opts.rate,
      sent: load.sent,
      sendRate: load.sendRate,
      processed,
      processedBy,
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
    await hubs?.stop();
    await broker.stop();
  }
}
