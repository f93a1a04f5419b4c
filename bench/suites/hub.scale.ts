import { availableParallelism, loadavg } from 'node:os';
import { startPostgres, POSTGRES_BIN, type TestPostgres } from '../../testkit/postgres.js';
import { MOSQUITTO } from '../../testkit/processes.js';
import type { BenchResult, Report } from '../result.js';
import { runFloor, type FloorResult } from '../scale/floor.js';
import { prepareHubHome, runHubStage, type HubHome, type HubStageResult } from '../scale/hub-stage.js';

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
  };
}

const ms = (x: number) => Number(x.toFixed(1));
const us = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(1)));
const cores = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(2)));
/** `baseline` and `ratio` against the floor at the same rate, where there is one. */
const against = (value: number, baseline: number | undefined, round: (x: number) => number) =>
  baseline ? { baseline: round(baseline), ratio: Number((value / baseline).toFixed(3)) } : {};

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

function hubLines(h: HubStageResult, s: ScaleSettings, floor: FloorResult | undefined): BenchResult[] {
  const common = { hubs: 1, store: 'postgres', rate: h.offered, devices: s.devices, seconds: ms(h.seconds) };
  const lines: BenchResult[] = [
    {
      bench: 'hub.scale',
      metric: 'events_per_second',
      value: Math.round(h.perSecond),
      unit: 'msg/s',
      ...against(h.perSecond, floor?.perSecond, Math.round),
      sent: h.sent,
      sendRate: Math.round(h.sendRate),
      processed: h.processed,
      fellBehind: h.fellBehind,
      ...(h.ingestMeanMs !== undefined ? { hubIngestMeanMs: ms(h.ingestMeanMs) } : {}),
      note: h.fellBehind
        ? `fell behind: ${h.processed} of ${h.sent} stored by ${s.drainMs} ms after the last send; value is what it sustained`
        : 'kept up: every event stored',
      ...common,
    },
  ];
  if (h.hubCpuMicrosPerEvent !== undefined) {
    const polls = h.pollCpuMicrosPerEvent ?? 0;
    lines.push({
      bench: 'hub.scale',
      metric: 'cpu_per_event',
      value: Number((h.hubCpuMicrosPerEvent - polls).toFixed(1)),
      unit: 'us',
      withApiPolls: Number(h.hubCpuMicrosPerEvent.toFixed(1)),
      apiPolls: h.apiPolls,
      hubCores: cores(h.hubCores),
      brokerCores: cores(h.brokerCores),
      loadCores: cores(h.loadCores),
      note: 'hub process CPU (all threads, /proc) over the phase per event stored, less the probes API polls (calibrated)',
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
      ...against(h.probes.p99, floor?.p99, ms),
      p50: ms(h.probes.p50),
      probes: h.probes.seen,
      target: TARGET_P99_MS,
      note: `device publish to the new inspection listed by GET /api/inspections, polled every ${s.pollMs} ms`,
      ...common,
    });
  return lines;
}

/**
 * Issue #24's `hub.scale` on this machine, in three parts, every process started here and ended before the next:
 *
 * 1. Floor (no hub): Debian's mosquitto, `devices` device connections publishing anomaly events (QoS 1, the real
 *    event's bytes with the send time in the first 8) at each steady rate, and 2 consumer processes (MQTT.js, MQTT 5)
 *    on one shared subscription `$share/pdm-floor/pdm/v1/+/+/event`. Received msg/s, publish-to-receive p50/p99
 *    (the worse consumer's), and the cores used by the broker, the load process and the consumers: the best any hub
 *    behind this broker could do here.
 * 2. One hub process, `store.engine: postgres` (a throwaway cluster, testkit/postgres.ts; one database and data
 *    folder, a new hub process and mosquitto for each rate) and `mqtt.mode: external`, the same load. The first
 *    stage first has every device send one event (opening its inspection) and waits for them all.
 *    `events_per_second`: events the hub stored (its pdm_ingest_seconds_count) from the first send until it caught
 *    up, or until `drainMs` after the last send if it did not (then `fellBehind: true` and the figure is the rate it
 *    sustained; `hubIngestMeanMs` is its mean arrival-to-commit). `cpu_per_event`: the hub process's CPU over that
 *    time per stored event, less what the probes' API polls cost it (300 polls timed on the idle hub before the
 *    phase; `withApiPolls` keeps the gross figure). `event_to_inspection_p99`: `probesPerSecond` of the events (at
 *    most 1 in 10) each open a new inspection (asset `probe-<stage>-<n>`); the time from the device's send to the
 *    moment `GET /api/inspections?site=bench&asset=…` lists it (bench/scale/probes.ts; the API shows what the hub
 *    has applied, which its group commit makes durable within `store.coalesceMs`). Printed only for a rate the hub
 *    kept up with. If it kept up with none of the rates asked for, one more stage runs at half the best rate it
 *    sustained, so the latency where it does keep up is measured.
 * 3. Two hub processes: not supported yet (the hub keeps correlation state in one process's memory; docs/operations.md
 *    "Several hub processes (not yet)"), so nothing is printed for them: a figure would be made up.
 *
 * Settings (environment): PDM_BENCH_SCALE_DEVICES (1000), PDM_BENCH_SCALE_RATES (5000,20000),
 * PDM_BENCH_SCALE_SECONDS (10 per stage), PDM_BENCH_SCALE_DRAIN_MS (5000), PDM_BENCH_SCALE_PROBES (20 per second).
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
  for (const rate of settings.rates) {
    const floor = await runFloor({ rate, seconds, devices, consumers, drainMs });
    floors.set(rate, floor);
    floorLines(floor, settings).forEach(say);
  }
  let postgres: TestPostgres | undefined;
  let home: HubHome | undefined;
  try {
    postgres = await startPostgres();
    const shared = (home = await prepareHubHome(await postgres.createDatabase('scale')));
    let stages = 0;
    const stage = (rate: number) => runHubStage({ ...settings, rate, stage: (stages += 1), home: shared });
    const results: HubStageResult[] = [];
    for (const rate of settings.rates) {
      const result = await stage(rate);
      results.push(result);
      hubLines(result, settings, floors.get(rate)).forEach(say);
    }
    if (results.every((r) => r.fellBehind)) {
      const best = Math.max(...results.map((r) => r.perSecond));
      const rate = Math.max(1, Math.floor(best / 2));
      hubLines(await stage(rate), settings, undefined).forEach(say);
    }
  } finally {
    await home?.remove();
    await postgres?.stop();
  }
}
