import { textToBytes } from './text.js';
import { toHex } from './utf8.js';

/** Headers the edge sets on every request it forwards to a gpu-agent's data plane. */
export const SIGNATURE_HEADERS = {
  deployment: 'x-meridian-deployment',
  timestamp: 'x-meridian-timestamp',
  signature: 'x-meridian-signature',
} as const;

/** How far (seconds) a signed timestamp may be from the agent's clock, either way. */
export const SIGNATURE_MAX_SKEW_SECONDS = 30;

const DEPLOYMENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;

/** What a signature covers. `target` is the path plus `?query` when there is one. */
export type SignedRequestFields = {
  method: string;
  target: string;
  bodySha256Hex: string;
  deploymentId: string;
  /** Unix seconds. */
  timestamp: number;
};

/** Whether a deployment id may appear in a signature (no separators, bounded). */
export function isValidDeploymentId(id: string): boolean {
  return DEPLOYMENT_ID.test(id);
}

/** Parses the timestamp header: unix seconds as digits only, else undefined. */
export function parseSignatureTimestamp(header: string | undefined): number | undefined {
  return header !== undefined && TIMESTAMP.test(header) ? Number(header) : undefined;
}

/** Whether `timestamp` lies within `skewSeconds` of `nowSeconds`. */
export function isTimestampFresh(
  timestamp: number,
  nowSeconds: number,
  skewSeconds = SIGNATURE_MAX_SKEW_SECONDS,
) {
  return Math.abs(nowSeconds - timestamp) <= skewSeconds;
}

/**
 * The exact string both sides HMAC. One field per line; the deployment id is checked to hold no newline
 * and the target cannot (HTTP forbids it), so no two requests share a string.
 */
export function canonicalSigningString(f: SignedRequestFields): string {
  if (!isValidDeploymentId(f.deploymentId)) throw new Error('invalid deployment id');
  return `MERIDIAN-HMAC-SHA256\n${f.method.toUpperCase()}\n${f.target}\n${f.bodySha256Hex}\n${f.deploymentId}\n${f.timestamp}`;
}

/** The slice of WebCrypto's SubtleCrypto that signing needs (workerd, browsers and Node all have it). */
export interface SubtleLike<Key> {
  digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: 'HMAC'; hash: 'SHA-256' },
    extractable: false,
    usages: ['sign'],
  ): Promise<Key>;
  sign(algorithm: 'HMAC', key: Key, data: Uint8Array): Promise<ArrayBuffer>;
}

/** Signs a request with WebCrypto (the edge's side): returns the hex HMAC-SHA256 signature. */
export async function signRequestWebCrypto<Key>(
  subtle: SubtleLike<Key>,
  key: Uint8Array,
  request: Omit<SignedRequestFields, 'bodySha256Hex'> & { body: Uint8Array },
): Promise<string> {
  const bodySha256Hex = toHex(new Uint8Array(await subtle.digest('SHA-256', request.body)));
  const cryptoKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const text = canonicalSigningString({ ...request, bodySha256Hex });
  return toHex(new Uint8Array(await subtle.sign('HMAC', cryptoKey, textToBytes(text))));
}
