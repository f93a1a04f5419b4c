import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, startPdm } from '../testkit/processes.js';

export const SITE = 'plant-chaos';

export interface AgentSpec {
  device: string;
  secret: string;
  /** The proxy port this agent reaches the hub through. */
  port: number;
  /** Small outbox limits, for the agent whose disk quota the harness fills. */
  quota?: boolean;
}

/** One event the agent decided, as its own log recorded it (written synchronously before the outbox append). */
export interface Generated {
  id: string;
  device: string;
  at: number;
}

/**
 * Scenario for the fleet: each machine alternates between full and half speed (so the baseline detector opens and
 * clears episodes again and again) and gets a real vibration step later on. Restarts replay it from the start.
 */
export function writeScenario(dir: string, devices: string[], speed: number): string {
  const lines = ['seed: 11', `speed: ${speed}`, 'machines:'];
  devices.forEach((device, i) => {
    lines.push(`  - id: ${device}`, `    site: ${SITE}`, '    regimes:');
    for (let t = 0; t < 600; t += 6)
      lines.push(`      - { atSeconds: ${t}, speed: ${(t / 6) % 2 === 0 ? 1 : 0.5}, rampSeconds: 0.2 }`);
    lines.push(`    faults: [{ type: vibration-step, atSeconds: ${40 + i * 7}, factor: 4 }]`);
  });
  const file = join(dir, 'scenario.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A real `pdm agent` process per device, restartable, with its log as the ground truth of what it generated. */
export class ChaosAgent {
  child: ChildProcess | undefined;
  restarts = 0;
  private readonly logFile: string;

  constructor(
    readonly spec: AgentSpec,
    private readonly dir: string,
    private readonly scenario: string,
  ) {
    this.logFile = join(dir, `${spec.device}.log`);
  }

  get device(): string {
    return this.spec.device;
  }

  get outboxDir(): string {
    return join(this.dir, 'outbox', SITE, this.spec.device);
  }

  async start(): Promise<void> {
    const env: Record<string, string> = {
      PDM_AGENT_SITE: SITE,
      PDM_AGENT_DEVICE: this.spec.device,
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${this.spec.port}`,
      PDM_AGENT_HUB_PASSWORD: this.spec.secret,
      PDM_AGENT_HUB_CONNECT_TIMEOUT_MS: '1000',
      PDM_AGENT_HUB_RECONNECT_MIN_MS: '100',
      PDM_AGENT_HUB_RECONNECT_MAX_MS: '1000',
      PDM_AGENT_SOURCE_SCENARIO: this.scenario,
      PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '10',
      PDM_AGENT_OUTBOX_DIR: join(this.dir, 'outbox'),
      PDM_AGENT_OUTBOX_RETRY_MS: '200',
      PDM_AGENT_HEALTH_INTERVAL_SECONDS: '2',
      PDM_AGENT_LOG_FILE: this.logFile,
    };
    if (this.spec.quota) {
      // A 16 KiB partition: telemetry fills it within seconds of a cut, then events wait in memory until it drains.
      env.PDM_AGENT_OUTBOX_QUOTA_BYTES = String(16 * 1024);
      env.PDM_AGENT_OUTBOX_SEGMENT_BYTES = '4096';
    } else {
      env.PDM_AGENT_TELEMETRY_ENABLED = 'false';
    }
    ({ child: this.child } = await startPdm(['agent'], env));
    this.child.stdout?.resume();
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited(child);
    this.child = undefined;
  }

  /** Every event any run of this agent logged, with the time it was decided. */
  generated(): Generated[] {
    if (!existsSync(this.logFile)) return [];
    const out: Generated[] = [];
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.includes('"msg":"event"')) continue;
      try {
        const rec = JSON.parse(line) as { eventId?: string; time: number };
        if (rec.eventId) out.push({ id: rec.eventId, device: this.spec.device, at: rec.time });
      } catch {
        // A line cut by SIGKILL mid-write: the event it named was not yet handed to the outbox either.
      }
    }
    return out;
  }

  /** What the agent's log says went wrong (quarantines and messages lost in memory are failures of the promise). */
  broken(): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"message quarantined"') || l.includes('"message lost: outbox and backlog full"'));
  }
}
