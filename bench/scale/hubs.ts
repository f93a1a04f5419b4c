import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited } from '../../testkit/processes.js';
import { cpuSecondsOf, hubMetrics, startHub } from '../suites/hub.ingest.js';

/** `single`: today's one hub process; `shared`: `cluster.mode: shared`, every process on one database and broker. */
export type ClusterMode = 'single' | 'shared';

/** The client id every stage's hubs share: in shared mode their event sessions join one share group under it. */
const CLIENT_ID = 'pdm-hub-scale';

/**
 * `request` again once if it failed at the socket: a hub whose event loop is held up by its synchronous database calls
 * may close a kept-alive connection just as it is reused (fetch's "fetch failed"). The second failure names its cause.
 */
export async function onceMore<T>(what: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      return await request();
    } catch (error) {
      const cause = (error as Error & { cause?: Error }).cause;
      throw new Error(`${what}: ${(error as Error).message}${cause ? ` (${cause.message})` : ''}`, { cause: error });
    }
  }
}

/** Events a hub has stored so far, and the seconds they took in all from arrival to durable commit (its /metrics). */
async function ingestedBy(httpUrl: string): Promise<{ count: number; seconds: number }> {
  const value = await onceMore(`GET ${httpUrl}/metrics`, () => hubMetrics(httpUrl));
  const count = value('pdm_ingest_seconds_count{channel="event"}');
  const seconds = value('pdm_ingest_seconds_sum{channel="event"}');
  return Number.isNaN(count) ? { count: 0, seconds: 0 } : { count, seconds };
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
 * The hub processes of one stage, over one PostgreSQL database behind one broker. The first uses `dataDir` (where
 * the probes' viewer is); the others get data folders of their own, as separate machines would.
 */
export class HubSet {
  /** Why a hub process ended before `stop()`: its exit and its log's last line, for the error that ends the stage. */
  private died: string | undefined;
  private stopping = false;

  private constructor(
    private readonly hubs: Array<{ child: ChildProcess; httpUrl: string }>,
    private readonly extraDirs: string[],
  ) {}

  static async start(opts: {
    mode: ClusterMode;
    processes: number;
    dataDir: string;
    databaseUrl: string;
    brokerPort: number;
  }): Promise<HubSet> {
    if (opts.mode === 'single' && opts.processes !== 1)
      throw new Error(`hub.scale: cluster.mode single runs 1 hub process, not ${opts.processes}`);
    const set = new HubSet([], []);
    try {
      for (let i = 1; i <= opts.processes; i += 1) {
        const dir = i === 1 ? opts.dataDir : await mkdtemp(join(tmpdir(), `pdm-bench-scale-hub${i}-`));
        if (i > 1) set.extraDirs.push(dir);
        // Shared mode: one model-signing key for every process (the first one makes it; the others must hold it).
        const cluster =
          opts.mode === 'shared'
            ? {
                PDM_HUB_CLUSTER_MODE: 'shared',
                PDM_HUB_CLUSTER_INSTANCE: `h${i}`,
                PDM_HUB_REGISTRY_SIGNING_KEY_FILE: join(opts.dataDir, 'registry', 'hub-ed25519.key'),
              }
            : {};
        const { child, httpUrl } = await startHub(dir, {
          PDM_HUB_STORE_ENGINE: 'postgres',
          PDM_HUB_STORE_URL: opts.databaseUrl,
          PDM_HUB_MQTT_MODE: 'external',
          PDM_HUB_MQTT_EXTERNAL_URL: `mqtt://127.0.0.1:${opts.brokerPort}`,
          PDM_HUB_MQTT_EXTERNAL_CLIENT_ID: CLIENT_ID,
          ...cluster,
        });
        set.hubs.push({ child, httpUrl });
        child.once('exit', (code, signal) => {
          if (set.stopping) return;
          const log = (() => {
            try {
              return readFileSync(join(dir, 'hub.log'), 'utf8').trimEnd().split('\n').pop();
            } catch {
              return undefined;
            }
          })();
          set.died ??= `hub process h${i} exited (code ${code}, signal ${signal}) mid-stage; last log line: ${log}`;
        });
      }
    } catch (error) {
      await set.stop();
      throw error;
    }
    return set;
  }

  /** The first process's API: the probes read the inspections through it, as one dashboard would. */
  get httpUrl(): string {
    return this.hubs[0]!.httpUrl;
  }

  get firstPid(): number | undefined {
    return this.hubs[0]!.child.pid;
  }

  /** Events stored and their arrival-to-commit seconds, summed over the processes; `each`: every process's count. */
  async ingested(): Promise<{ count: number; seconds: number; each: number[] }> {
    if (this.died) throw new Error(this.died);
    const each = await Promise.all(this.hubs.map((h) => ingestedBy(h.httpUrl)));
    return {
      count: each.reduce((a, b) => a + b.count, 0),
      seconds: each.reduce((a, b) => a + b.seconds, 0),
      each: each.map((e) => e.count),
    };
  }

  /** CPU seconds (all threads) the processes have spent so far, summed; undefined if one cannot be read. */
  cpuSeconds(): number | undefined {
    let sum = 0;
    for (const { child } of this.hubs) {
      const cpu = cpuSecondsOf(child.pid);
      if (cpu === undefined) return undefined;
      sum += cpu;
    }
    return sum;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.hubs.map((h) => stopHub(h.child)));
    await Promise.all(this.extraDirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}
