import { rm } from 'node:fs/promises';
import { connectAll, LoadDevice, percentile, rssOf, startLoadHub } from './load.fleet.js';
import type { Report } from '../result.js';

const DEVICES = Number(process.env.PDM_BENCH_DEVICES ?? 1000);
/** One simulated hour of the fleet's traffic, sent as fast as the hub acknowledges it (bounded in flight). */
const SIM_SECONDS = 3600;
const TELEMETRY_EVERY_S = 10;
const EVENT_EVERY_S = 300;
const IN_FLIGHT = 400;
const SLICES = 12;

/** The hub's own view of its V8 heap (prom-client default metrics): live objects plus not-yet-collected garbage. */
async function hubHeapBytes(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(/^pdm_hub_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/**
 * `npm run bench -- soak.hub`: an accelerated hour of DEVICES devices (telemetry every 10 s, an event every 5 min,
 * QoS 1) against one hub process. One JSON line per five simulated minutes: throughput, PUBACK latency percentiles
 * and the hub's resident memory; then the growth of resident memory after the first quarter (warm-up), sample to
 * sample and peak to peak.
 */
export async function run(report: Report): Promise<void> {
  const hub = await startLoadHub(DEVICES);
  const devices = Array.from({ length: DEVICES }, (_, i) => new LoadDevice(i, hub.ready.mqttPort, hub.secret));
  try {
    await connectAll(devices);
    const rss: number[] = [];
    const heap: number[] = [];
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
      latencies.sort((a, b) => a - b);
      rss.push(rssOf(hub.child.pid!));
      heap.push(await hubHeapBytes(hub.ready.httpUrl));
      report({ bench: 'soak.hub', metric: 'slice', value: Math.round(work.length / seconds), unit: 'msg/s', simulatedMinute: ((slice + 1) * sliceSeconds) / 60, messages: sent, p50Ms: Number(percentile(latencies, 0.5).toFixed(1)), p95Ms: Number(percentile(latencies, 0.95).toFixed(1)), p99Ms: Number(percentile(latencies, 0.99).toFixed(1)), hubRssMb: Math.round(rss.at(-1)! / 1e6), hubHeapMb: Math.round(heap.at(-1)! / 1e6) });
    }
    // Warm-up: the first quarter (15 simulated minutes): connections, JIT, commissioning and caches settle.
    const warm = rss[2]!;
    const lost = devices.reduce((sum, d) => sum + d.unacked.size, 0);
    report({ bench: 'soak.hub', metric: 'rss_growth_after_warmup', value: Number((((rss.at(-1)! - warm) / warm) * 100).toFixed(1)), unit: '%', target: 5, warmMb: Math.round(warm / 1e6), endMb: Math.round(rss.at(-1)! / 1e6), maxMb: Math.round(Math.max(...rss) / 1e6), heapWarmMb: Math.round(heap[2]! / 1e6), heapEndMb: Math.round(heap.at(-1)! / 1e6), devices: DEVICES, messages: sent, eventsUnacked: lost });
    // RSS sampled at slice ends rides V8's GC sawtooth (the heap swings by tens of MB between samples), so also compare
    // peaks: the highest RSS of the last quarter against the highest of the quarter after warm-up. A leak raises both.
    const quarter = Math.max(1, Math.floor(SLICES / 4));
    const early = Math.max(...rss.slice(quarter - 1, 2 * quarter - 1));
    const late = Math.max(...rss.slice(-quarter));
    report({ bench: 'soak.hub', metric: 'rss_peak_growth', value: Number((((late - early) / early) * 100).toFixed(1)), unit: '%', target: 5, earlyPeakMb: Math.round(early / 1e6), latePeakMb: Math.round(late / 1e6), heapMinMb: Math.round(Math.min(...heap) / 1e6), heapMaxMb: Math.round(Math.max(...heap) / 1e6) });
    await Promise.all(devices.map((d) => d.client!.endAsync()));
  } finally {
    for (const d of devices) d.client?.end(true);
    if (hub.child.exitCode === null) hub.child.kill('SIGTERM');
    await new Promise((resolve) => (hub.child.exitCode === null ? hub.child.once('exit', resolve) : resolve(undefined)));
    await rm(hub.dataDir, { recursive: true, force: true });
  }
}
