import { apiCall } from '../../testkit/processes.js';
import { percentile } from '../suites/hub.ingest.js';
import { onceMore } from './hubs.js';
import { monoMs, SITE } from './load.js';

/**
 * Event-to-inspection, observed from outside the hub: each probe event names a new asset `probe-<stage>-<n>`, so it
 * opens an inspection; this asks the hub's API (`GET /api/inspections?site=bench&asset=…`) for the oldest probe not
 * yet seen, every `pollMs` until it is listed, and its latency is the time from the device's send to that answer.
 * Probes go out in order; asking for the oldest first misses none, and one listed before an older one (another event
 * session or hub process took it) counts late, never early. The resolution is the poll gap plus one request. One
 * request in flight at a time: the polling itself stays light.
 */
export class ProbeWatcher {
  private readonly sentAt: number[] = [];
  private readonly latencies: number[] = [];
  private stopped = false;
  /** Requests made to the API, for the hub CPU they cost (`calibrate`). */
  polls = 0;
  private loop: Promise<void> | undefined;

  constructor(
    /** Names this stage's probes apart from earlier stages' on the same database. */
    private readonly stage: number,
    private readonly httpUrl: string,
    private readonly session: { cookie: string; csrf: string },
    private readonly pollMs: number,
  ) {}

  /** Probe `n`'s asset. */
  asset(n: number): string {
    return `probe-${this.stage}-${n}`;
  }

  /** The load generator tells each probe's send time (monoMs). */
  sent(n: number, at: number): void {
    this.sentAt[n] = at;
  }

  /** Probes sent so far, and how many of them the API has listed. */
  get progress(): { sent: number; seen: number } {
    return { sent: this.sentAt.length, seen: this.latencies.length };
  }

  start(): void {
    this.loop = this.watch();
    this.loop.catch(() => undefined); // stop() rethrows it
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      const next = this.latencies.length;
      const at = this.sentAt[next];
      if (at !== undefined && (await this.listed(next))) {
        this.latencies.push(monoMs() - at);
        continue; // the next one may be listed already
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  /** `count` polls back to back for a probe never sent: the hub's CPU around this is what one poll costs it. */
  async calibrate(count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) await this.listed(-1);
  }

  private async listed(n: number): Promise<boolean> {
    this.polls += 1;
    const path = `/api/inspections?site=${SITE}&asset=${this.asset(n)}`;
    const list = await onceMore(`GET ${path}`, async () => {
      const res = await apiCall(this.httpUrl, this.session, path);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return (await res.json()) as unknown[];
    });
    return list.length > 0;
  }

  /** Stops polling; how many probes were sent and seen, and the seen ones' latency percentiles (ms). */
  async stop(): Promise<{ sent: number; seen: number; p50: number; p99: number }> {
    this.stopped = true;
    await this.loop;
    return {
      sent: this.sentAt.length,
      seen: this.latencies.length,
      p50: this.latencies.length ? percentile(this.latencies, 0.5) : NaN,
      p99: this.latencies.length ? percentile(this.latencies, 0.99) : NaN,
    };
  }
}
