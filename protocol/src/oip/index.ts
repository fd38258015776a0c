export * from './binary.js';
export * from './datatypes.js';
export * from './schemas.js';
export * from './signature.js';
export * from './statistics.js';
export * from './tensor.js';
export { toHex } from './utf8.js';
