import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { exited, freePort, MOSQUITTO } from '../../testkit/processes.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { tempDir } from '../integration/hub-helpers.js';
import { externalPresent, programs } from './externals.js';

/** Whether PostgreSQL and mosquitto are here for `suite` (said once, naming it, when one is not). */
export const sharedInfraPresent = (suite: string): boolean =>
  externalPresent(suite, programs.postgres) && externalPresent(suite, programs.mosquitto);

/** What in-process hubs in cluster.mode shared run on: a throwaway PostgreSQL, a mosquitto, and one device on it. */
export interface SharedInfra {
  server: TestPostgres;
  brokerUrl: string;
  /** `plant-1:pump-001`, connected (clean, QoS 1 publishes). */
  device: MqttClient;
  /** The hub settings for a shared-mode hub on database `storeUrl` behind this broker. */
  hubConfig(storeUrl: string): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startSharedInfra(): Promise<SharedInfra> {
  const server = await startPostgres();
  const tmp = await tempDir();
  const port = await freePort();
  const conf = join(tmp.dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const broker = spawn(MOSQUITTO!, ['-c', conf], { stdio: 'ignore' });
  const brokerUrl = `mqtt://127.0.0.1:${port}`;
  let device: MqttClient | undefined;
  for (let i = 0; !device; i += 1) {
    device = await mqtt
      .connectAsync(brokerUrl, { clientId: 'plant-1:pump-001', protocolVersion: 4, reconnectPeriod: 0 })
      .catch((error: Error) => {
        if (i > 100) throw error;
        return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50));
      });
  }
  await tmp.cleanup();
  const connected = device;
  return {
    server,
    brokerUrl,
    device: connected,
    hubConfig: (storeUrl) => ({
      cluster: { mode: 'shared', instance: 'hub-a' },
      store: { engine: 'postgres', url: storeUrl },
      mqtt: { mode: 'external', external: { url: brokerUrl, clientId: 'pdm-fleet', eventConnections: 2 } },
    }),
    async stop() {
      await connected.endAsync(true);
      broker.kill('SIGTERM');
      await exited(broker);
      await server.stop();
    },
  };
}
