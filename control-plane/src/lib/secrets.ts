import { createHash, randomBytes } from 'node:crypto';

/** A random secret of `bytes` bytes, base64url, for tokens that are shown once and stored hashed. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Lower-case hex SHA-256. High-entropy secrets (API keys, refresh tokens) need no slow hash. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
