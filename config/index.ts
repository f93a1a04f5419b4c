import { HubConfigSchema, type HubConfig } from './schemas.js';
import { loadConfig } from './loader.js';

export * from './loader.js';
export * from './agent-config.js';
export * from './schemas.js';
export * from './logger.js';

export const loadHubConfig = (file: string, env?: NodeJS.ProcessEnv): Readonly<HubConfig> =>
  loadConfig(HubConfigSchema, file, { envPrefix: 'PDM_HUB_', ...(env ? { env } : {}) });
