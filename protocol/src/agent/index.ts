export * from './desired-state.js';
export * from './gpu-types.js';
export * from './heartbeat.js';
export * from './images.js';
export * from './inventory.js';
export * from './prediction-usage.js';
export * from './registration.js';
export * from './usage.js';
