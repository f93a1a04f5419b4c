import { loadHubConfig } from '../config/index.js';
import { onShutdown } from '../config/lifecycle.js';
import { createLogger } from '../config/logger.js';
import { createHub } from './hub.js';

/** Composition root of the hub process. Tells a parent process (the demo, tests) its ports over IPC. */
export async function runHub(configFile: string): Promise<void> {
  const cfg = loadHubConfig(configFile);
  const logger = createLogger({ name: 'hub', level: cfg.log.level, file: cfg.log.file });
  const hub = await createHub(cfg, logger);
  process.send?.({ type: 'ready', mqttPort: hub.mqttPort, httpPort: hub.httpPort, httpUrl: hub.httpUrl });
  onShutdown(logger, () => hub.close());
}
