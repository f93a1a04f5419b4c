import { join, resolve } from 'node:path';
import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import { postgresRegistryStorage } from './pg-storage.js';
import { fileRegistryStorage, type RegistryStorage } from './storage.js';

/**
 * Single mode: the registry's files in the data directory; shared mode: every hub process's, in the fleet's database.
 * `origin` names this process in change notices (the CLI's differs from the hub's, so the hub hears its commits).
 */
export async function openRegistryStorage(
  cfg: HubConfig,
  dataDir: string,
  logger: Logger,
  origin = cfg.cluster.instance,
): Promise<RegistryStorage> {
  const dir = join(dataDir, 'registry');
  const operators = cfg.registry.allowedOperators && new Set(cfg.registry.allowedOperators);
  const keyFile = cfg.registry.signingKeyFile && resolve(cfg.registry.signingKeyFile);
  if (cfg.cluster.mode !== 'shared') return fileRegistryStorage(dir, { operators, keyFile });
  return postgresRegistryStorage({
    url: cfg.store.url!,
    instance: origin!,
    dir,
    keyFile,
    logger,
    operators,
  });
}
