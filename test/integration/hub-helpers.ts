import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { HubConfigSchema, validate, type HubConfig } from '../../config/index.js';
import { createHub, type RunningHub } from '../../hub/hub.js';
import { deviceClientId } from '../../protocol/topics.js';
import { exited, hubEnv, startPdm, type HubReady } from '../../testkit/processes.js';
import { ChaosCluster } from '../../chaos/cluster.js';

export { anomalyEvent } from '../../testkit/hub-events.js';

export const silent = pino({ level: 'silent' });

export async function tempDir(prefix = 'pdm-hub-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function hubConfig(dataDir: string, extra: Record<string, unknown> = {}): HubConfig {
  return validate(
    HubConfigSchema,
    {
      mqtt: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      dataDir,
      store: { coalesceMs: 2 },
      log: { level: 'silent' },
      ...extra,
    },
    'test',
  );
}

export async function startTestHub(dataDir: string, extra: Record<string, unknown> = {}): Promise<RunningHub> {
  return createHub(hubConfig(dataDir, extra), silent);
}

export async function connectDevice(
  port: number,
  site: string,
  device: string,
  password: string | undefined,
  username = deviceClientId(site, device),
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: deviceClientId(site, device),
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(password !== undefined ? { username, password } : {}),
  });
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface HubProcess {
  child: ChildProcess;
  mqttPort: number;
  httpUrl: string;
  stderr(): string;
}

/** `node dist/cli/pdm.js hub` as a real child process on free ports; resolves once it reports ready over IPC. */
export async function forkHub(dataDir: string, env: Record<string, string> = {}): Promise<HubProcess> {
  const { child, ready, stderr } = await startPdm<HubReady>(['hub', '--config', join(REPO, 'config', 'hub.yaml')], {
    ...hubEnv(dataDir),
    ...env,
  });
  return { child, mqttPort: ready.mqttPort, httpUrl: ready.httpUrl, stderr };
}

/**
 * A two-process test's parts on a throwaway PostgreSQL and mosquitto (ChaosCluster), started through `start` and
 * stopped by `stop` in reverse: device clients, hub processes, the cluster, its folder.
 */
export class ClusterRun {
  readonly hubs: ChildProcess[] = [];
  readonly devices: MqttClient[] = [];
  cluster: ChaosCluster | undefined;
  private cleanup: (() => Promise<void>) | undefined;

  async start(): Promise<{ dir: string; cluster: ChaosCluster }> {
    const tmp = await tempDir();
    this.cleanup = tmp.cleanup;
    this.cluster = await ChaosCluster.start(tmp.dir);
    return { dir: tmp.dir, cluster: this.cluster };
  }

  async stop(): Promise<void> {
    for (const d of this.devices) await d.endAsync(true);
    for (const hub of this.hubs) {
      hub.kill('SIGTERM');
      await exited(hub);
    }
    await this.cluster?.stop();
    await this.cleanup?.();
  }
}
