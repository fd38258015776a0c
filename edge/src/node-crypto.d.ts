// workerd's node:crypto (the nodejs_compat flag), only as far as the hot path uses it: synchronous SHA-256 and
// HMAC-SHA256. Declared here rather than through @types/node, whose globals would leak Node APIs into Worker code.
declare module 'node:crypto' {
  interface Hash {
    update(data: string | Uint8Array): Hash;
    digest(): Uint8Array;
    digest(encoding: 'hex'): string;
  }
  export function createHash(algorithm: 'sha256'): Hash;
  export function createHmac(algorithm: 'sha256', key: string | Uint8Array): Hash;
}
