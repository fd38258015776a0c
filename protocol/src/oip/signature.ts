import { textToBytes } from './text.js';
import { toHex } from './utf8.js';

/** Headers the edge sets on every request it forwards to a gpu-agent's data plane; all are signed. */
export const SIGNATURE_HEADERS = {
  deployment: 'x-meridian-deployment',
  timestamp: 'x-meridian-timestamp',
  signature: 'x-meridian-signature',
  /** Unique per attempt (the edge's request id and the attempt number): the agent refuses it twice. */
  nonce: 'x-meridian-nonce',
  /** Which of the agent's data-plane keys signed (see `agentKeyDerivationText`). */
  keyGeneration: 'x-meridian-key-generation',
} as const;

/** Who a forwarded prediction is billed to: the agent journals its 200s under these, as signed. */
export const USAGE_HEADERS = {
  org: 'x-meridian-org',
  key: 'x-meridian-key',
  user: 'x-meridian-user',
  /** The caller's Idempotency-Key: the control plane bills a key once per org, however often it is served. */
  idempotencyKey: 'x-meridian-idempotency-key',
} as const;

/**
 * What a caller may send as `Idempotency-Key` (the header of the IETF draft, as Stripe and others take it): a
 * UUID fits, and so does any short token without spaces or separators that could be confused in a log line.
 */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,255}$/;

/** Whether a caller's Idempotency-Key has the shape the platform takes. */
export function isValidIdempotencyKey(key: string): boolean {
  return IDEMPOTENCY_KEY.test(key);
}

/** How far (seconds) a signed timestamp may be from the agent's clock, either way. */
export const SIGNATURE_MAX_SKEW_SECONDS = 30;

const DEPLOYMENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const NONCE = /^[A-Za-z0-9_.:-]{8,128}$/;
const GENERATION = /^[1-9][0-9]{0,8}$/;
const IDENTITY = /^[A-Za-z0-9_-]{1,64}$/;
// A header value as HTTP allows it holds no line break; bounded so a signed field stays small.
const HEADER_VALUE = /^[^\r\n]{0,1024}$/;

/**
 * The caller a prediction is billed to: an org and the API key or user that called, and the caller's
 * Idempotency-Key when it sent one (a retry of the same call is then billed once).
 */
export type UsageIdentity = {
  orgId: string;
  keyId: string | null;
  userId: string | null;
  idempotencyKey?: string | undefined;
};

/** What a signature covers. `target` is the path plus `?query` when there is one. */
export type SignedRequestFields = {
  method: string;
  target: string;
  bodySha256Hex: string;
  deploymentId: string;
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  keyGeneration: number;
  /** The headers that change how the body is read; '' when absent. */
  contentType: string;
  inferenceHeaderContentLength: string;
  /** Absent on metadata calls, which are not billed. */
  usage?: UsageIdentity | undefined;
};

/** Whether a deployment id may appear in a signature (no separators, bounded). */
export function isValidDeploymentId(id: string): boolean {
  return DEPLOYMENT_ID.test(id);
}

/** Whether a nonce has the shape the edge sends (its request id and the attempt: `<id>.<n>`). */
export function isValidNonce(nonce: string): boolean {
  return NONCE.test(nonce);
}

/** Parses the key-generation header: a positive integer, else undefined. */
export function parseKeyGeneration(header: string | undefined): number | undefined {
  return header !== undefined && GENERATION.test(header) ? Number(header) : undefined;
}

/** Whether an org, key or user id may appear in a signature. */
export function isValidIdentityId(id: string): boolean {
  return IDENTITY.test(id);
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
 * The exact string both sides HMAC. One field per line; every free-form field is checked to hold no line
 * break (ids by their pattern, header values by theirs, the target because HTTP forbids it), so no two
 * requests share a string. Throws on a field that could not be sent as it is signed.
 */
export function canonicalSigningString(f: SignedRequestFields): string {
  if (!isValidDeploymentId(f.deploymentId)) throw new Error('invalid deployment id');
  if (!isValidNonce(f.nonce)) throw new Error('invalid nonce');
  if (!GENERATION.test(String(f.keyGeneration))) throw new Error('invalid key generation');
  if (!HEADER_VALUE.test(f.contentType) || !HEADER_VALUE.test(f.inferenceHeaderContentLength))
    throw new Error('invalid signed header value');
  const u = f.usage;
  if (u && (!isValidIdentityId(u.orgId) || !optionalId(u.keyId) || !optionalId(u.userId)))
    throw new Error('invalid usage identity');
  const idempotencyKey = u?.idempotencyKey;
  if (idempotencyKey !== undefined && !isValidIdempotencyKey(idempotencyKey))
    throw new Error('invalid idempotency key');
  const lines = [
    // A call with an Idempotency-Key signs one more line under its own tag, so a call without one signs
    // exactly what it did before the key existed (edges and agents of either age agree on those).
    idempotencyKey === undefined ? 'MERIDIAN-HMAC-SHA256-V2' : 'MERIDIAN-HMAC-SHA256-V3',
    f.method.toUpperCase(),
    f.target,
    f.bodySha256Hex,
    f.deploymentId,
    String(f.timestamp),
    f.nonce,
    String(f.keyGeneration),
    f.contentType,
    f.inferenceHeaderContentLength,
    u?.orgId ?? '',
    u?.keyId ?? '',
    u?.userId ?? '',
  ];
  if (idempotencyKey !== undefined) lines.push(idempotencyKey);
  return lines.join('\n');
}

const optionalId = (id: string | null) => id === null || isValidIdentityId(id);

/** The headers that carry `usage` (absent ids are not sent). */
export function usageHeaders(usage: UsageIdentity | undefined): Record<string, string> {
  if (!usage) return {};
  return {
    [USAGE_HEADERS.org]: usage.orgId,
    ...(usage.keyId === null ? {} : { [USAGE_HEADERS.key]: usage.keyId }),
    ...(usage.userId === null ? {} : { [USAGE_HEADERS.user]: usage.userId }),
    ...(usage.idempotencyKey === undefined ? {} : { [USAGE_HEADERS.idempotencyKey]: usage.idempotencyKey }),
  };
}

/** Reads the usage headers back; undefined when no org is named. Ids are checked by the signature. */
export function parseUsageHeaders(header: (name: string) => string | undefined): UsageIdentity | undefined {
  const orgId = header(USAGE_HEADERS.org);
  if (orgId === undefined) return undefined;
  const identity: UsageIdentity = {
    orgId,
    keyId: header(USAGE_HEADERS.key) ?? null,
    userId: header(USAGE_HEADERS.user) ?? null,
  };
  const idempotencyKey = header(USAGE_HEADERS.idempotencyKey);
  if (idempotencyKey !== undefined) identity.idempotencyKey = idempotencyKey;
  return identity;
}

/**
 * What each agent's data-plane key is derived from: key = HMAC-SHA256(platform DATA_PLANE_SIGNING_KEY, this).
 * The control plane hands an agent its key (never the platform's); the edge derives it per replica from the
 * agent id and generation in the routing snapshot. A rotation bumps the generation.
 */
export function agentKeyDerivationText(agentId: string, generation: number): string {
  return `agent-data-plane:${agentId}:${generation}`;
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

/** An agent's data-plane key (raw bytes) from the platform key, with WebCrypto. */
export async function deriveAgentKeyWebCrypto<Key>(
  subtle: SubtleLike<Key>,
  platformKey: Uint8Array,
  agentId: string,
  generation: number,
): Promise<Uint8Array> {
  const key = await subtle.importKey('raw', platformKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(
    await subtle.sign('HMAC', key, textToBytes(agentKeyDerivationText(agentId, generation))),
  );
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
