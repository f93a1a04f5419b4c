export * from './schemas/common.js';
export * from './schemas/hub.js';
export * from './schemas/agent.js';
export * from './schemas/source.js';
export * from './schemas/scenario.js';
