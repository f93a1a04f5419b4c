import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readStoredDir } from '../hub/store/sql/engine.js';
import type { HubState } from '../hub/store/state.js';
import { exited, startPdm, type HubReady } from '../testkit/processes.js';

/** The real `pdm hub` process, restarted on the same ports so agents (through the proxy) find it again. */
export class ChaosHub {
  child: ChildProcess | undefined;
  ready: HubReady | undefined;

  constructor(
    readonly dataDir: string,
    private readonly logFile: string,
    /** More settings: those of a hub process in a cluster (chaos/cluster.ts). */
    private readonly settings: Record<string, string> = {},
  ) {}

  get mqttPort(): number {
    if (!this.ready) throw new Error('hub never started');
    return this.ready.mqttPort;
  }

  async start(): Promise<void> {
    const env = {
      PDM_HUB_MQTT_HOST: '127.0.0.1',
      PDM_HUB_MQTT_PORT: String(this.ready?.mqttPort ?? 0),
      PDM_HUB_HTTP_PORT: String(this.ready?.httpPort ?? 0),
      PDM_HUB_DATA_DIR: this.dataDir,
      PDM_HUB_LOG_FILE: this.logFile,
      ...this.settings,
    };
    // Right after a SIGKILL the port can take a moment to be free again: retry a few times.
    for (let attempt = 1; ; attempt += 1) {
      try {
        ({ child: this.child, ready: this.ready } = await startPdm<HubReady>(['hub'], env));
        this.child.stdout?.resume();
        return;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited(child);
    this.child = undefined;
  }

  /** MQTT clients the hub has right now (0 when it is down). */
  async connectedClients(): Promise<number> {
    if (!this.child || !this.ready) return 0;
    try {
      const res = await fetch(`${this.ready.httpUrl}/healthz`);
      return ((await res.json()) as { mqtt: { connectedClients: number } }).mqtt.connectedClients;
    } catch {
      return 0;
    }
  }

  rssBytes(): number | undefined {
    const pid = this.child?.pid;
    if (!pid) return undefined;
    try {
      const line = readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('VmRSS:'));
      return line ? Number(line.split(/\s+/)[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** What the hub holds durably: its snapshot plus its journal (a record still being appended reads as torn, not as half a change). */
  holdings(): HubHoldings {
    return holdingsOf(readStoredDir(this.dataDir));
  }
}

export interface HubHoldings {
  seen: Set<string>;
  /** Events stored twice, plus inspections that share an episode with another inspection. */
  duplicates: number;
}

export function holdingsOf(state: HubState): HubHoldings {
  const counts = new Map<string, number>();
  const refs = [
    ...state.inspections.flatMap((i) => i.events),
    // A promoted watch's events were copied into its inspection; count them there only.
    ...state.watches.filter((w) => w.status !== 'promoted').flatMap((w) => w.events),
  ];
  for (const ref of refs) counts.set(ref.id, (counts.get(ref.id) ?? 0) + 1);
  let duplicates = [...counts.values()].reduce((sum, n) => sum + (n - 1), 0);
  const episodeOwner = new Map<string, string>();
  for (const inspection of state.inspections) {
    for (const episode of inspection.episodeIds) {
      const owner = episodeOwner.get(episode);
      if (owner && owner !== inspection.id) duplicates += 1;
      episodeOwner.set(episode, inspection.id);
    }
  }
  return { seen: new Set(state.seenEvents.keys()), duplicates };
}
