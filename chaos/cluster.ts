import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { pgSession, preparePostgres } from '../hub/store/sql/pg.js';
import type { SqlSession } from '../hub/store/sql/session.js';
import type { Inspection } from '../hub/inspections/records.js';
import { SharedRows } from '../hub/store/shared/rows.js';
import { wholeFrom } from '../hub/store/shared/spill.js';
import { exited, freePort, MOSQUITTO } from '../testkit/processes.js';
import { startPostgres, type TestPostgres } from '../testkit/postgres.js';
import { holdingsOf, type HubHoldings } from './hub.js';

/**
 * What `--hubs N` runs the hubs on: a throwaway PostgreSQL and a mosquitto (anonymous, on loopback: the hubs'
 * settings are what is under test, not device auth). Each hub process gets the same database and broker.
 */
export class ChaosCluster {
  private reader: SqlSession | undefined;

  private constructor(
    private readonly postgres: TestPostgres,
    private readonly broker: ChildProcess,
    readonly url: string,
    readonly mqttPort: number,
    /** The model-signing key every hub process of the cluster is given (registry.signingKeyFile). */
    readonly signingKeyFile: string,
  ) {}

  static async start(dir: string): Promise<ChaosCluster> {
    if (!MOSQUITTO) throw new Error('pdm chaos --hubs: mosquitto is not installed (apt-get install mosquitto)');
    const postgres = await startPostgres();
    const url = await postgres.createDatabase('chaos');
    await preparePostgres(url);
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n`,
    );
    const broker = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    for (let i = 0; !(await listening(port)); i += 1) {
      if (i > 100) throw new Error(`mosquitto did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const signingKeyFile = join(dir, 'hub-ed25519.key');
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return new ChaosCluster(postgres, broker, url, port, signingKeyFile);
  }

  /** The settings of hub process `instance` (environment, as the other chaos hub gets its ports). */
  hubEnv(instance: string): Record<string, string> {
    return {
      PDM_HUB_CLUSTER_MODE: 'shared',
      PDM_HUB_CLUSTER_INSTANCE: instance,
      PDM_HUB_STORE_ENGINE: 'postgres',
      PDM_HUB_STORE_URL: this.url,
      PDM_HUB_MQTT_MODE: 'external',
      PDM_HUB_MQTT_EXTERNAL_URL: `mqtt://127.0.0.1:${this.mqttPort}`,
      PDM_HUB_MQTT_EXTERNAL_EVENT_CONNECTIONS: '4',
      PDM_HUB_REGISTRY_SIGNING_KEY_FILE: this.signingKeyFile,
    };
  }

  /** What the database holds, as the one-process chaos reads a hub's data directory (spilled events counted too). */
  holdings(): HubHoldings {
    const reader = (this.reader ??= pgSession(this.url));
    const state = new SharedRows(reader, 'chaos-reader', () => undefined as never).load(0);
    return holdingsOf({ ...state, inspections: state.inspections.map((i) => wholeFrom(reader, i)) });
  }

  /** The inspections the database holds for one asset, with every event each took (spilled ones read back). */
  inspectionsOf(site: string, asset: string): Inspection[] {
    const reader = (this.reader ??= pgSession(this.url));
    return reader
      .all<{ doc: string }>("select doc from shared_record where kind = 'i' and site = ? and asset = ?", [site, asset])
      .map((row) => wholeFrom(reader, JSON.parse(row.doc) as Inspection));
  }

  async stop(): Promise<void> {
    this.reader?.close();
    this.broker.kill('SIGTERM');
    await exited(this.broker);
    await this.postgres.stop();
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
