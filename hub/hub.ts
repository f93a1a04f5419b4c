import { resolve } from 'node:path';
import type { HubConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { startBroker } from './broker.js';
import { startHttp } from './http.js';
import { Ingest } from './ingest.js';
import { HubStore } from './store/store.js';

export interface RunningHub {
  mqttPort: number;
  httpPort: number;
  httpUrl: string;
  store: HubStore;
  ingest: Ingest;
  close(): Promise<void>;
}

/** Opens the store (failing fast on a corrupt one), then starts the broker and the HTTP API. */
export async function createHub(cfg: HubConfig, logger: Logger): Promise<RunningHub> {
  const dataDir = resolve(cfg.dataDir);
  const store = await HubStore.open(dataDir, { coalesceMs: cfg.store.coalesceMs });
  logger.info({ dataDir, inspections: store.state.inspections.length }, 'state loaded');
  const ingest = new Ingest(store, logger.child({ component: 'ingest' }), cfg.mqtt.maxPayloadBytes);
  const broker = await startBroker({ ...cfg.mqtt, ingest, logger: logger.child({ component: 'broker' }) });
  const http = await startHttp({
    ...cfg.http,
    deps: { store, ingest, mqtt: broker, startedAt: Date.now() },
    logger: logger.child({ component: 'http' }),
  });
  const host = cfg.http.host === '0.0.0.0' ? '127.0.0.1' : cfg.http.host;
  return {
    mqttPort: broker.port,
    httpPort: http.port,
    httpUrl: `http://${host}:${http.port}`,
    store,
    ingest,
    async close() {
      await http.close();
      await broker.close();
      await store.flush();
    },
  };
}
