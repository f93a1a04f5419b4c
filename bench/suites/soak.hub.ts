import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HUB_RUNTIME_ENV } from '../../hub/runtime-settings.js';
import { connectAll, LoadDevice, percentile, rssOf, startLoadHub } from './load.fleet.js';
import type { Report } from '../result.js';

const DEVICES = Number(process.env.PDM_BENCH_DEVICES ?? 1000);
/** One simulated hour of the fleet's traffic, sent as fast as the hub acknowledges it (bounded in flight). */
const SIM_SECONDS = 3600;
const TELEMETRY_EVERY_S = 10;
const EVENT_EVERY_S = 300;
const IN_FLIGHT = 400;
const SLICES = 12;
const SAMPLE_MS = 250;

/** The hub's own view of its V8 heap (prom-client default metrics): live objects plus not-yet-collected garbage. */
async function hubHeapBytes(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(/^pdm_hub_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/**
 * With PDM_BENCH_HEAP_SNAPSHOTS=DIR the hub writes a V8 heap snapshot into DIR at the end of warm-up and at the end
 * (compare them with `node dist/bench/heap-compare.js A B`). A snapshot stops the hub for seconds: the slice after it
 * is slower, so such a run's throughput figures are not comparable.
 */
const SNAPSHOT_DIR = process.env.PDM_BENCH_HEAP_SNAPSHOTS ? resolve(process.env.PDM_BENCH_HEAP_SNAPSHOTS) : undefined;

/**
 * The hub runs with what we ship (hub/runtime-settings.ts, as deploy/systemd/pdm-hub.service starts it);
 * PDM_BENCH_HUB_NODE_OPTIONS=none measures Node's defaults instead (no node flags either), anything else is taken as
 * the hub's NODE_OPTIONS.
 */
const WANTED = process.env.PDM_BENCH_HUB_NODE_OPTIONS;
const HUB_NODE_OPTIONS = WANTED === 'none' ? '' : WANTED || HUB_RUNTIME_ENV.NODE_OPTIONS!;

function hubEnv(): Record<string, string> {
  const options = [HUB_NODE_OPTIONS];
  if (SNAPSHOT_DIR) options.push(`--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOT_DIR}`);
  return { NODE_OPTIONS: options.join(' ').trim() };
}

/** Asks the hub for a heap snapshot and waits until the file is written (its size stops changing). */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const made = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!made) continue;
    const size = (await stat(join(dir, made))).size;
    if (size > 0 && size === last) return join(dir, made);
    last = size;
  }
}

/**
 * `npm run bench -- soak.hub`: an accelerated hour of DEVICES devices (telemetry every 10 s, an event every 5 min,
 * QoS 1) against one hub process. One JSON line per five simulated minutes: throughput, PUBACK latency percentiles
 * and the hub's resident memory; then the growth of resident memory after the first quarter (warm-up), sample to
 * sample and peak to peak.
 */
export async function run(report: Report): Promise<void> {
  if (SNAPSHOT_DIR) await mkdir(SNAPSHOT_DIR, { recursive: true });
  const hub = await startLoadHub(DEVICES, hubEnv(), WANTED === 'none' ? process.execArgv : undefined);
  const devices = Array.from({ length: DEVICES }, (_, i) => new LoadDevice(i, hub.ready.mqttPort, hub.secret));
  try {
    await connectAll(devices);
    const rss: number[] = [];
    const heap: number[] = [];
    /** Per slice, from samples every SAMPLE_MS: the lowest heap (the sawtooth's troughs, near the live data) and RSS range. */
    const heapLow: number[] = [];
    const rssLow: number[] = [];
    const rssHigh: number[] = [];
    const snapshots: string[] = [];
    let sent = 0;
    const sliceSeconds = SIM_SECONDS / SLICES;
    for (let slice = 0; slice < SLICES; slice += 1) {
      const latencies: number[] = [];
      const started = performance.now();
      // The slice's messages in simulated-time order; each device is phase-shifted so the load is even.
      const work: Array<() => Promise<number | undefined>> = [];
      for (let t = slice * sliceSeconds; t < (slice + 1) * sliceSeconds; t += 1) {
        for (const d of devices) {
          const phase = d.index % TELEMETRY_EVERY_S;
          if ((t + phase) % TELEMETRY_EVERY_S === 0) work.push(() => d.telemetry());
          if ((t + (d.index % EVENT_EVERY_S)) % EVENT_EVERY_S === 0) work.push(() => d.event());
        }
      }
      let next = 0;
      const sampled = { heapLow: Infinity, rssLow: Infinity, rssHigh: 0 };
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const r = rssOf(hub.child.pid!);
          const h = await hubHeapBytes(hub.ready.httpUrl);
          sampled.rssLow = Math.min(sampled.rssLow, r);
          sampled.rssHigh = Math.max(sampled.rssHigh, r);
          sampled.heapLow = Math.min(sampled.heapLow, h);
          await new Promise((r) => setTimeout(r, SAMPLE_MS));
        }
      })();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < work.length) {
            const ms = await work[next++]!();
            if (ms !== undefined) latencies.push(ms);
          }
        }),
      );
      sent += work.length;
      const seconds = (performance.now() - started) / 1000;
      sampling = false;
      await sampler;
      latencies.sort((a, b) => a - b);
      rss.push(rssOf(hub.child.pid!));
      heap.push(await hubHeapBytes(hub.ready.httpUrl));
      heapLow.push(Math.min(sampled.heapLow, heap.at(-1)!));
      rssLow.push(Math.min(sampled.rssLow, rss.at(-1)!));
      rssHigh.push(Math.max(sampled.rssHigh, rss.at(-1)!));
      report({
        bench: 'soak.hub',
        metric: 'slice',
        value: Math.round(work.length / seconds),
        unit: 'msg/s',
        simulatedMinute: ((slice + 1) * sliceSeconds) / 60,
        messages: sent,
        p50Ms: Number(percentile(latencies, 0.5).toFixed(1)),
        p95Ms: Number(percentile(latencies, 0.95).toFixed(1)),
        p99Ms: Number(percentile(latencies, 0.99).toFixed(1)),
        hubRssMb: Math.round(rss.at(-1)! / 1e6),
        hubHeapMb: Math.round(heap.at(-1)! / 1e6),
        hubHeapLowMb: Math.round(heapLow.at(-1)! / 1e6),
        hubRssRangeMb: [Math.round(rssLow.at(-1)! / 1e6), Math.round(rssHigh.at(-1)! / 1e6)],
      });
      if (SNAPSHOT_DIR && (slice === 2 || slice === SLICES - 1))
        snapshots.push(await heapSnapshot(hub.child.pid!, SNAPSHOT_DIR));
    }
    // Warm-up: the first quarter (15 simulated minutes): connections, JIT, commissioning and caches settle.
    const warm = rss[2]!;
    const lost = devices.reduce((sum, d) => sum + d.unacked.size, 0);
    report({
      bench: 'soak.hub',
      metric: 'rss_growth_after_warmup',
      value: Number((((rss.at(-1)! - warm) / warm) * 100).toFixed(1)),
      unit: '%',
      target: 5,
      warmMb: Math.round(warm / 1e6),
      endMb: Math.round(rss.at(-1)! / 1e6),
      maxMb: Math.round(Math.max(...rss) / 1e6),
      heapWarmMb: Math.round(heap[2]! / 1e6),
      heapEndMb: Math.round(heap.at(-1)! / 1e6),
      devices: DEVICES,
      messages: sent,
      eventsUnacked: lost,
      hubNodeOptions: HUB_NODE_OPTIONS || 'node defaults',
    });
    // RSS sampled at slice ends rides V8's GC sawtooth (the heap swings by tens of MB between samples), so also compare
    // peaks: the highest RSS of the last quarter against the highest of the quarter after warm-up. A leak raises both.
    const quarter = Math.max(1, Math.floor(SLICES / 4));
    const early = Math.max(...rss.slice(quarter - 1, 2 * quarter - 1));
    const late = Math.max(...rss.slice(-quarter));
    report({
      bench: 'soak.hub',
      metric: 'rss_peak_growth',
      value: Number((((late - early) / early) * 100).toFixed(1)),
      unit: '%',
      target: 5,
      earlyPeakMb: Math.round(early / 1e6),
      latePeakMb: Math.round(late / 1e6),
      heapMinMb: Math.round(Math.min(...heap) / 1e6),
      heapMaxMb: Math.round(Math.max(...heap) / 1e6),
    });
    // What the hub keeps, without the sawtooth: the heap's trough (sampled every SAMPLE_MS, so right after a
    // collection) of the last quarter against that of the quarter after warm-up. Garbage is gone at a trough, so only
    // data that stays (a leak, state growing with the events received) raises it.
    const floorEarly = Math.min(...heapLow.slice(quarter, 2 * quarter));
    const floorLate = Math.min(...heapLow.slice(-quarter));
    report({
      bench: 'soak.hub',
      metric: 'heap_floor_growth',
      value: Number((((floorLate - floorEarly) / floorEarly) * 100).toFixed(1)),
      unit: '%',
      target: 5,
      earlyFloorMb: Number((floorEarly / 1e6).toFixed(1)),
      lateFloorMb: Number((floorLate / 1e6).toFixed(1)),
      sampleMs: SAMPLE_MS,
    });
    // The same for resident memory: the highest of all samples (not only slice ends), early against late quarter.
    const highEarly = Math.max(...rssHigh.slice(quarter, 2 * quarter));
    const highLate = Math.max(...rssHigh.slice(-quarter));
    report({
      bench: 'soak.hub',
      metric: 'rss_high_growth',
      value: Number((((highLate - highEarly) / highEarly) * 100).toFixed(1)),
      unit: '%',
      target: 5,
      earlyHighMb: Math.round(highEarly / 1e6),
      lateHighMb: Math.round(highLate / 1e6),
      ...(snapshots.length ? { heapSnapshots: snapshots } : {}),
    });
    await Promise.all(devices.map((d) => d.client!.endAsync()));
  } finally {
    for (const d of devices) d.client?.end(true);
    if (hub.child.exitCode === null) hub.child.kill('SIGTERM');
    await new Promise((resolve) =>
      hub.child.exitCode === null ? hub.child.once('exit', resolve) : resolve(undefined),
    );
    await rm(hub.dataDir, { recursive: true, force: true });
  }
}
