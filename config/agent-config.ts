import { AgentConfigSchema, type AgentConfig } from './schemas/agent.js';
import { ScenarioSchema, type Scenario } from './schemas/scenario.js';
import { loadConfig } from './loader.js';

/*
 * The loaders an agent process needs, importing only the agent's and the scenario's schemas: config/index.ts brings
 * every schema, the hub's too (and node-cron with it), which an agent would otherwise keep in memory for its lifetime.
 */

export const loadAgentConfig = (file: string, env?: NodeJS.ProcessEnv): Readonly<AgentConfig> =>
  loadConfig(AgentConfigSchema, file, { envPrefix: 'PDM_AGENT_', ...(env ? { env } : {}) });

export const loadScenario = (file: string, env?: NodeJS.ProcessEnv): Readonly<Scenario> =>
  loadConfig(ScenarioSchema, file, { envPrefix: 'PDM_SCENARIO_', ...(env ? { env } : {}) });
