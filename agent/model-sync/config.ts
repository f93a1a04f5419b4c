/** The agent's `modelSync` config section; the schema lives with the rest of the agent's config. */
export { ModelSyncConfigSchema, type ModelSyncConfig } from '../../config/schemas/agent.js';
