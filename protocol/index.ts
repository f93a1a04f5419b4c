export * from './codec.js';
export * from './device.js';
export * from './envelope.js';
export * from './errors.js';
export * from './messages.js';
export * from './samples.js';
export * from './topics.js';
export * from './uuid.js';
