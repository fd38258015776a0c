export * from './agent/index.js';
export * from './api-keys.js';
export * from './billing.js';
export * from './edge.js';
export * from './errors.js';
export * from './ids.js';
export * from './oip/index.js';
export * from './routing.js';
