import { availableParallelism, loadavg } from 'node:os';
import { startPostgres, POSTGRES_BIN, type TestPostgres } from '../../testkit/postgres.js';
import { MOSQUITTO } from '../../testkit/processes.js';
import type { BenchResult, Report } from '../result.js';
import { runFloor, type FloorResult } from '../scale/floor.js';
import { prepareHubHome, runHubStage, type HubStageResult } from '../scale/hub-stage.js';

/** Issue #24's target: event-to-inspection p99 at a steady 20,000 events/s from 1,000 devices. */
const TARGET_P99_MS = 50;

export interface ScaleSettings {
  devices: number;
  /** Offered steady rates, msg/s, for the floor and the hub alike. */
  rates: number[];
  seconds: number;
  drainMs: number;
  probesPerSecond: number;
  pollMs: number;
  consumers: number;
  /** Which parts run: `floor`, `single` (one hub, cluster.mode single), `shared` (cluster.mode shared). */
  parts: Part[];
  /** Hub processes of the shared stages. */
  processes: number[];
}

const PARTS = ['floor', 'single', 'shared'] as const;
type Part = (typeof PARTS)[number];

function parts(): Part[] {
  const raw = process.env.PDM_BENCH_SCALE_PARTS ?? PARTS.join(',');
  const chosen = raw.split(',');
  const wrong = chosen.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (wrong.length) throw new Error(`PDM_BENCH_SCALE_PARTS: "${wrong.join(',')}" is not one of ${PARTS.join(', ')}`);
  return chosen as Part[];
}

function numbers(name: string, fallback: string): number[] {
  const raw = process.env[name] ?? fallback;
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v) || v <= 0))
    throw new Error(`${name}: "${raw}" is not a list of positive numbers`);
  return values;
}

export function settingsFromEnv(): ScaleSettings {
  return {
    devices: numbers('PDM_BENCH_SCALE_DEVICES', '1000')[0]!,
    rates: numbers('PDM_BENCH_SCALE_RATES', '5000,20000'),
    seconds: numbers('PDM_BENCH_SCALE_SECONDS', '10')[0]!,
    drainMs: numbers('PDM_BENCH_SCALE_DRAIN_MS', '5000')[0]!,
    probesPerSecond: numbers('PDM_BENCH_SCALE_PROBES', '20')[0]!,
    pollMs: 5,
    consumers: 2,
    parts: parts(),
    processes: numbers('PDM_BENCH_SCALE_PROCESSES', '1,2').map(Math.round),
  };
}

const ms = (x: number) => Number(x.toFixed(1));
const us = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(1)));
const cores = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(2)));
/** `baseline` and `ratio` against what `of` names at the same rate, where there is one. */
const against = (value: number, baseline: number | undefined, round: (x: number) => number, of: string) =>
  baseline ? { baseline: round(baseline), ratio: Number((value / baseline).toFixed(3)), baselineOf: of } : {};

/** What a hub stage's lines are compared with: the floor (single mode), or the same rate with other hubs. */
interface Baselines {
  of: string;
  perSecond?: number | undefined;
  cpuPerEvent?: number | undefined;
  p99?: number | undefined;
}
const netCpu = (h: HubStageResult) =>
  h.hubCpuMicrosPerEvent === undefined ? undefined : h.hubCpuMicrosPerEvent - (h.pollCpuMicrosPerEvent ?? 0);

function floorLines(f: FloorResult, s: ScaleSettings): BenchResult[] {
  const common = { rate: f.offered, devices: s.devices, consumers: s.consumers, seconds: ms(f.seconds) };
  return [
    {
      bench: 'hub.scale',
      metric: 'floor_messages_per_second',
      value: Math.round(f.perSecond),
      unit: 'msg/s',
      sent: f.sent,
      sendRate: Math.round(f.sendRate),
      brokerAcked: f.acked,
      received: f.received,
      brokerCores: cores(f.brokerCores),
      loadCores: cores(f.loadCores),
      consumerCores: cores(f.consumerCores),
      // What one message cost each part: times a rate, the cores that rate needs (if they ran alone).
      brokerUsPerMessage: us(f.usPerMessage.broker),
      loadUsPerMessage: us(f.usPerMessage.load),
      consumerUsPerMessage: us(f.usPerMessage.consumers),
      note: 'no hub: mosquitto and 2 MQTT.js consumers on one $share subscription',
      ...common,
    },
    {
      bench: 'hub.scale',
      metric: 'floor_publish_to_receive_p99',
      value: ms(f.p99),
      unit: 'ms',
      p50: ms(f.p50),
      target: TARGET_P99_MS,
      ...common,
    },
  ];
}

function hubLines(h: HubStageResult, s: ScaleSettings, base: Baselines): BenchResult[] {
  const common = {
    mode: h.mode,
    processes: h.processes,
    store: 'postgres',
    rate: h.offered,
    devices: s.devices,
    seconds: ms(h.seconds),
  };
  const lines: BenchResult[] = [
    {
      bench: 'hub.scale',
      metric: 'events_per_second',
      value: Math.round(h.perSecond),
      unit: 'msg/s',
      ...against(h.perSecond, base.perSecond, Math.round, base.of),
      sent: h.sent,
      sendRate: Math.round(h.sendRate),
      processed: h.processed,
      ...(h.processes > 1 ? { processedBy: h.processedBy } : {}),
      fellBehind: h.fellBehind,
      ...(h.ingestMeanMs !== undefined ? { hubIngestMeanMs: ms(h.ingestMeanMs) } : {}),
      note: h.fellBehind
        ? `fell behind: ${h.processed} of ${h.sent} stored, ${h.probes.seen} of ${h.probes.sent} probes listed, ` +
          `by ${s.drainMs} ms after the last send; value is what it sustained`
        : 'kept up: every event stored',
      ...common,
    },
  ];
  const cpu = netCpu(h);
  if (cpu !== undefined) {
    lines.push({
      bench: 'hub.scale',
      metric: 'cpu_per_event',
      value: Number(cpu.toFixed(1)),
      unit: 'us',
      ...against(cpu, base.cpuPerEvent, us as (x: number) => number, base.of),
      withApiPolls: Number(h.hubCpuMicrosPerEvent!.toFixed(1)),
      apiPolls: h.apiPolls,
      hubCores: cores(h.hubCores),
      brokerCores: cores(h.brokerCores),
      loadCores: cores(h.loadCores),
      note: 'hub processes CPU (all threads, /proc, summed) over the phase per event stored, less the probes API polls (calibrated)',
      ...common,
    });
  }
  // A latency only where every event and every probe got through: of a hub that fell behind it would be made up.
  if (!h.fellBehind)
    lines.push({
      bench: 'hub.scale',
      metric: 'event_to_inspection_p99',
      value: ms(h.probes.p99),
      unit: 'ms',
      ...against(h.probes.p99, base.p99, ms, base.of),
      p50: ms(h.probes.p50),
      probes: h.probes.seen,
      target: TARGET_P99_MS,
      note: `device publish to the new inspection listed by GET /api/inspections of the first hub process, polled every ${s.pollMs} ms`,
      ...common,
    });
  return lines;
}

type Say = (line: BenchResult) => void;
/** Half the best rate the stages sustained: where a hub that kept up with none of them is measured again. */
const halfOfBest = (results: HubStageResult[]) =>
  Math.max(1, Math.floor(Math.max(...results.map((r) => r.perSecond)) / 2));

/** Single mode: one database for every rate (warmed up once), compared with the floor. */
async function singleStages(
  postgres: TestPostgres,
  settings: ScaleSettings,
  floors: Map<number, FloorResult>,
  say: Say,
): Promise<Map<number, HubStageResult>> {
  const home = await prepareHubHome(await postgres.createDatabase('scale'));
  const byRate = new Map<number, HubStageResult>();
  try {
    let stages = 0;
    const stage = (rate: number) =>
      runHubStage({ ...settings, rate, stage: (stages += 1), home, mode: 'single', processes: 1 });
    for (const rate of settings.rates) {
      const result = await stage(rate);
      byRate.set(rate, result);
      const floor = floors.get(rate);
      hubLines(result, settings, { of: 'floor', perSecond: floor?.perSecond, p99: floor?.p99 }).forEach(say);
    }
    const results = [...byRate.values()];
    if (results.every((r) => r.fellBehind)) {
      const rate = halfOfBest(results);
      const result = await stage(rate);
      byRate.set(rate, result);
      hubLines(result, settings, { of: 'floor' }).forEach(say);
    }
  } finally {
    await home.remove();
  }
  return byRate;
}

/**
 * Shared mode: at each rate, each count of hub processes on a fresh database (its own warm-up), the counts taking
 * turns so the machine's swings fall on all. The fewest processes compare with single mode at that rate, the others
 * with the fewest. If the fewest kept up with no rate, every count runs once more at half their best.
 */
async function sharedStages(
  postgres: TestPostgres,
  settings: ScaleSettings,
  single: Map<number, HubStageResult>,
  say: Say,
): Promise<void> {
  const counts = [...new Set(settings.processes)].sort((a, b) => a - b);
  const fewest = new Map<number, HubStageResult>();
  let stages = 100; // probes' assets apart from single mode's, though the database is new anyway
  const atRate = async (rate: number) => {
    for (const processes of counts) {
      stages += 1;
      const home = await prepareHubHome(await postgres.createDatabase(`scale_shared_${stages}`));
      let result: HubStageResult;
      try {
        result = await runHubStage({ ...settings, rate, stage: stages, home, mode: 'shared', processes });
      } finally {
        await home.remove();
      }
      const base =
        processes === counts[0]
          ? { of: 'cluster.mode single, 1 process', h: single.get(rate) }
          : { of: `cluster.mode shared, ${counts[0]} process(es)`, h: fewest.get(rate) };
      if (processes === counts[0]) fewest.set(rate, result);
      const b = base.h;
      hubLines(result, settings, {
        of: base.of,
        perSecond: b?.perSecond,
        cpuPerEvent: b && netCpu(b),
        p99: b && !b.fellBehind && !result.fellBehind ? b.probes.p99 : undefined,
      }).forEach(say);
    }
  };
  for (const rate of settings.rates) await atRate(rate);
  const results = [...fewest.values()];
  if (results.length && results.every((r) => r.fellBehind)) await atRate(halfOfBest(results));
}

/**
 * Issue #24's `hub.scale` on this machine, in three parts, every process started here and ended before the next:
 *
 * 1. Floor (no hub): Debian's mosquitto, `devices` device connections publishing anomaly events (QoS 1, the real
 *    event's bytes with the send time in the first 8) at each steady rate, and 2 consumer processes (MQTT.js, MQTT 5)
 *    on one shared subscription `$share/pdm-floor/pdm/v1/+/+/event`. Received msg/s, publish-to-receive p50/p99
 *    (the worse consumer's), and the cores used by the broker, the load process and the consumers: the best any hub
 *    behind this broker could do here.
 * 2. One hub process in `cluster.mode: single`, `store.engine: postgres` (a throwaway cluster, testkit/postgres.ts;
 *    one database and data folder, a new hub process and mosquitto for each rate) and `mqtt.mode: external`, the same
 *    load. The first stage first has every device send one event (opening its inspection) and waits for them all.
 *    `events_per_second`: events the hub stored (its pdm_ingest_seconds_count) from the first send until it caught
 *    up, or until `drainMs` after the last send if it did not (then `fellBehind: true` and the figure is the rate it
 *    sustained; `hubIngestMeanMs` is its mean arrival-to-commit). `cpu_per_event`: the hub process's CPU over that
 *    time per stored event, less what the probes' API polls cost it (300 polls timed on the idle hub before the
 *    phase; `withApiPolls` keeps the gross figure). `event_to_inspection_p99`: `probesPerSecond` of the events (at
 *    most 1 in 10) each open a new inspection (asset `probe-<stage>-<n>`); the time from the device's send to the
 *    moment `GET /api/inspections?site=bench&asset=…` lists it (bench/scale/probes.ts; the API shows what the hub
 *    has applied, which its group commit makes durable within `store.coalesceMs`). Printed only for a rate the hub
 *    kept up with. If it kept up with none of the rates asked for, one more stage runs at half the best rate it
 *    sustained, so the latency where it does keep up is measured. Baseline: the floor at the same rate.
 * 3. `cluster.mode: shared` with 1 and 2 hub processes (PDM_BENCH_SCALE_PROCESSES) on one database behind one
 *    mosquitto, a fresh database for each stage (each warms up), their event sessions in one share group. The same
 *    figures, events and CPU summed over the processes; the probes poll the first process's API, which lists what
 *    the others committed once their change notice reached it. Probes taken by different processes may be listed
 *    out of order; the oldest unseen is asked for first, so such a probe counts late, never early. Baselines: single
 *    mode at the same rate for 1 process; 1 process for 2 (the ratio of 2 processes to 1).
 *
 * Settings (environment): PDM_BENCH_SCALE_DEVICES (1000), PDM_BENCH_SCALE_RATES (5000,20000),
 * PDM_BENCH_SCALE_SECONDS (10 per stage), PDM_BENCH_SCALE_DRAIN_MS (5000), PDM_BENCH_SCALE_PROBES (20 per second),
 * PDM_BENCH_SCALE_PARTS (floor,single,shared), PDM_BENCH_SCALE_PROCESSES (1,2).
 */
export async function run(report: Report, settings: ScaleSettings = settingsFromEnv()): Promise<void> {
  const missing = [!MOSQUITTO && 'mosquitto', !POSTGRES_BIN && 'postgresql'].filter(Boolean);
  if (missing.length) {
    process.stderr.write(
      `hub.scale skipped: ${missing.join(' and ')} not installed (apt-get install ${missing.join(' ')})\n`,
    );
    return;
  }
  // The machine is shared: its 1-minute load average beside each stage's figures says how much else ran.
  const say = (line: BenchResult) =>
    report({ ...line, machineCores: availableParallelism(), loadAverage: Number(loadavg()[0]!.toFixed(2)) });
  const { devices, seconds, drainMs, consumers } = settings;
  const floors = new Map<number, FloorResult>();
  if (settings.parts.includes('floor'))
    for (const rate of settings.rates) {
      const floor = await runFloor({ rate, seconds, devices, consumers, drainMs });
      floors.set(rate, floor);
      floorLines(floor, settings).forEach(say);
    }
  let postgres: TestPostgres | undefined;
  try {
    postgres = await startPostgres();
    const single = settings.parts.includes('single')
      ? await singleStages(postgres, settings, floors, say)
      : new Map<number, HubStageResult>();
    if (settings.parts.includes('shared')) await sharedStages(postgres, settings, single, say);
  } finally {
    await postgres?.stop();
  }
}
