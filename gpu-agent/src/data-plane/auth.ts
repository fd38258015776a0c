import {
  isTimestampFresh,
  isValidDeploymentId,
  parseSignatureTimestamp,
  SIGNATURE_HEADERS,
  SIGNATURE_MAX_SKEW_SECONDS,
} from '@meridian/protocol';
import { verifyEdgeSignature } from './signature.js';

/** The edge signature is missing, stale, for an unknown deployment or wrong (401). */
export class SignatureError extends Error {
  override name = 'SignatureError';
}

export type AuthOptions = {
  signingKey: (deploymentId: string) => Uint8Array | undefined;
  bodyLimitBytes: number;
  maxSkewSeconds?: number;
  nowMs: () => number;
};

/** What the signature check needs from a request, whichever server representation it comes from. */
export type SignedRequest = {
  method: string;
  /** Path and query, exactly as sent: the signature covers them. */
  target: string;
  /** A header by its lower-case name. */
  header(name: string): string | undefined;
  /** Reads the whole body, refusing more than `limit` bytes. */
  readBody(limit: number): Promise<Uint8Array>;
};

/**
 * Authenticates a request and returns its body. Header and clock checks come first, so an unsigned or
 * replayed request is refused before its body is read; the HMAC covers the body, so it is checked last.
 */
export async function readSignedBody(request: SignedRequest, options: AuthOptions): Promise<Uint8Array> {
  const deploymentId = request.header(SIGNATURE_HEADERS.deployment) ?? '';
  const timestamp = parseSignatureTimestamp(request.header(SIGNATURE_HEADERS.timestamp));
  const signature = request.header(SIGNATURE_HEADERS.signature) ?? '';
  if (!isValidDeploymentId(deploymentId) || timestamp === undefined || signature === '')
    throw new SignatureError('missing or malformed edge signature headers');
  const now = Math.floor(options.nowMs() / 1000);
  if (!isTimestampFresh(timestamp, now, options.maxSkewSeconds ?? SIGNATURE_MAX_SKEW_SECONDS))
    throw new SignatureError('edge signature timestamp is outside the allowed window');
  const key = options.signingKey(deploymentId);
  if (key === undefined) throw new SignatureError('unknown deployment');
  const body = await request.readBody(options.bodyLimitBytes);
  const fields = { method: request.method, target: request.target, body, deploymentId, timestamp };
  if (!verifyEdgeSignature(key, fields, signature)) throw new SignatureError('bad edge signature');
  return body;
}
