import { loadHubConfig } from '../config/index.js';
import { onShutdown } from '../config/lifecycle.js';
import { createLogger } from '../config/logger.js';
import { keepPrivate } from '../storage/private-dir.js';
import { createHub } from './hub.js';

/** Composition root of the hub process. Tells a parent process (the demo, tests) its ports over IPC. */
export async function runHub(configFile: string): Promise<void> {
  const cfg = loadHubConfig(configFile);
  const narrowed = keepPrivate([cfg.dataDir]); // before the log file is opened
  const logger = createLogger({ name: 'hub', level: cfg.log.level, file: cfg.log.file });
  for (const dir of narrowed) logger.warn({ dir }, 'data directory was readable by others; now 0700');
  const hub = await createHub(cfg, logger);
  process.send?.({ type: 'ready', mqttPort: hub.mqttPort, httpPort: hub.httpPort, httpUrl: hub.httpUrl });
  onShutdown(logger, () => hub.close());
}
