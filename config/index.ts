import { AgentConfigSchema, HubConfigSchema, ScenarioSchema, type AgentConfig, type HubConfig, type Scenario } from './schemas.js';
import { loadConfig } from './loader.js';

export * from './loader.js';
export * from './schemas.js';
export * from './logger.js';

export const loadHubConfig = (file: string, env?: NodeJS.ProcessEnv): Readonly<HubConfig> =>
  loadConfig(HubConfigSchema, file, { envPrefix: 'PDM_HUB_', ...(env ? { env } : {}) });

export const loadAgentConfig = (file: string, env?: NodeJS.ProcessEnv): Readonly<AgentConfig> =>
  loadConfig(AgentConfigSchema, file, { envPrefix: 'PDM_AGENT_', ...(env ? { env } : {}) });

export const loadScenario = (file: string, env?: NodeJS.ProcessEnv): Readonly<Scenario> =>
  loadConfig(ScenarioSchema, file, { envPrefix: 'PDM_SCENARIO_', ...(env ? { env } : {}) });
