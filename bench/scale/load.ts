import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { anomalyAfter } from '../../testkit/hub-events.js';
import { LeanMqttClient } from '../lean-mqtt.js';
import { pace } from '../pace.js';
import { MessageArena } from '../suites/hub.ingest.js';

export const SITE = 'bench';

/** Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC), the same in every process: send and receive times. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface SteadyOptions {
  rate: number;
  seconds: number;
  /** The floor: each payload's first 8 bytes carry its send time (monoMs, float64 LE), for the consumers. */
  stamp?: boolean;
  /** Every `every`-th message is an event for a new asset `asset(n)` (it opens an inspection); `sent` gets its time. */
  probes?: { every: number; asset: (n: number) => string; sent: (n: number, at: number) => void };
  /** How long after the last send to wait for the broker's PUBACKs before the phase ends without the rest. */
  ackWaitMs: number;
}

export interface SteadyResult {
  sent: number;
  /** monoMs of the first send. */
  startedAt: number;
  /** Messages per second the sending reached (the offered rate unless the load process lagged). */
  sendRate: number;
  /** PUBACKs the broker sent within `ackWaitMs` of the last send. */
  acked: number;
  /** First send to the last PUBACK (or to the end of the wait for it). */
  seconds: number;
  /** CPU seconds (user + system) this load process spent over the phase. */
  loadCpuSeconds: number;
}

/**
 * `devices` device connections (bench/lean-mqtt.ts: cheap for the load process) to one broker, anonymous as the bench's
 * mosquitto allows, each with its own envelope sequence and one open anomaly episode on its own asset.
 */
export class ScaleFleet {
  private readonly envelopes: Array<ReturnType<typeof createEnvelopeFactory>>;
  private readonly episodes: string[];
  private probesMade = 0;

  private constructor(private readonly clients: LeanMqttClient[]) {
    this.envelopes = clients.map((_, d) => createEnvelopeFactory({ site: SITE, device: `dev-${d}` }));
    this.episodes = clients.map(() => uuidv7());
  }

  static async connect(port: number, devices: number): Promise<ScaleFleet> {
    const clients: LeanMqttClient[] = [];
    for (let batch = 0; batch < devices; batch += 50) {
      const ids = Array.from({ length: Math.min(50, devices - batch) }, (_, i) => `${SITE}:dev-${batch + i}`);
      clients.push(...(await Promise.all(ids.map((clientId) => LeanMqttClient.connect(port, { clientId })))));
    }
    return new ScaleFleet(clients);
  }

  get size(): number {
    return this.clients.length;
  }

  /** An anomaly event from device `d`: its own asset and episode, or a probe's new asset and a new episode. */
  event(d: number, probeAsset?: string): { topic: string; payload: Buffer } {
    const fresh = probeAsset !== undefined;
    return encode(
      'event',
      anomalyAfter(this.envelopes[d]!.next(), {
        asset: probeAsset ?? `asset-${d}`,
        episodeId: fresh ? undefined : this.episodes[d]!,
      }),
    );
  }

  /** One event from every device; resolves on the last PUBACK. */
  async once(): Promise<void> {
    await Promise.all(
      this.clients.map((c, d) => {
        const { topic, payload } = this.event(d);
        return c.publish(topic, payload);
      }),
    );
  }

  /**
   * A steady rate, round-robin over the devices: every 5 ms, as many messages as the rate says should have gone by
   * then. Messages are built beforehand into buffers outside the JS heap (hub.ingest's MessageArena) so neither
   * building them nor the load process's garbage collection shows up as the broker's latency.
   */
  async steady(opts: SteadyOptions): Promise<SteadyResult> {
    const total = Math.max(1, Math.round(opts.rate * opts.seconds));
    const arena = new MessageArena(total);
    const topics: string[] = [];
    const probeOf = new Int32Array(total).fill(-1);
    for (let i = 0; i < total; i += 1) {
      const d = i % this.clients.length;
      const probe = opts.probes && i % opts.probes.every === 0 ? (probeOf[i] = this.probesMade++) : undefined;
      const { topic, payload } = this.event(d, probe === undefined ? undefined : opts.probes!.asset(probe));
      topics[d] = topic;
      arena.add(payload);
    }
    const cpuBefore = process.cpuUsage();
    const clients = this.clients;
    const run = await pace({
      rate: opts.rate,
      total,
      tickMs: 5,
      now: monoMs,
      // A load process starved of CPU stops at 1.5 times the phase rather than stretch it: `sent` says how far it got.
      stopAfterMs: opts.seconds * 1500,
      ackWaitMs: opts.ackWaitMs,
      send: (i, acked) => {
        const payload = arena.get(i);
        const at = monoMs();
        if (opts.stamp) payload.writeDoubleLE(at, 0);
        if (probeOf[i]! >= 0) opts.probes!.sent(probeOf[i]!, at);
        return clients[i % clients.length]!.send(topics[i % clients.length]!, payload, acked);
      },
    });
    const cpu = process.cpuUsage(cpuBefore);
    return {
      sent: run.sent,
      acked: run.acked,
      startedAt: run.start,
      sendRate: run.sent / (Math.max(1, run.sendEnd - run.start) / 1000),
      seconds: (monoMs() - run.start) / 1000,
      loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }

  async end(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.end()));
  }
}
