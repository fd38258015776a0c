// workerd's node:crypto (the nodejs_compat flag), only as far as the edge uses it: synchronous SHA-256 and
// HMAC-SHA256 where a call is rare (an agent's key derived once, a cold API key's hash, session cookies). The
// per-call body hash and signature use WebCrypto (routing/signer.ts): node:crypto builds a stream per call.
// Declared here rather than through @types/node, whose globals would leak Node APIs into Worker code.
declare module 'node:crypto' {
  interface Hash {
    update(data: string | Uint8Array): Hash;
    digest(): Uint8Array;
    digest(encoding: 'hex'): string;
  }
  export function createHash(algorithm: 'sha256'): Hash;
  export function createHmac(algorithm: 'sha256', key: string | Uint8Array): Hash;
}
