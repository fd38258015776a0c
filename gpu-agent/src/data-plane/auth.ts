import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  isTimestampFresh,
  isValidDeploymentId,
  isValidNonce,
  parseKeyGeneration,
  parseSignatureTimestamp,
  parseUsageHeaders,
  SIGNATURE_HEADERS,
  SIGNATURE_MAX_SKEW_SECONDS,
} from '@meridian/protocol';
import { QueueFullError } from '../onnx/errors.js';
import type { NonceCache } from './nonces.js';
import { verifyEdgeSignature } from './signature.js';

/** The edge signature is missing, stale, replayed, under an unknown key or wrong (401). */
export class SignatureError extends Error {
  override name = 'SignatureError';
}

/**
 * The agent has no data-plane key yet: it is starting and has not heard from the control plane (503, the
 * replica down). A restarted agent listens before it registers, and the edge's held calls arrive in that
 * window: they are held and tried again, where a 401 would have been their answer.
 */
export class KeyNotYetKnownError extends Error {
  override name = 'KeyNotYetKnownError';
  constructor() {
    super('the agent is starting and has no data-plane key yet; retry shortly');
  }
}

/** The replay window holds as many nonces as it may: shed the request (503), never forget a live nonce. */
export class ReplayWindowFullError extends QueueFullError {
  override name = 'ReplayWindowFullError';
  constructor() {
    super('data plane', 1);
    this.message = 'too many signed requests within the replay window; retry later';
  }
}

export type AuthOptions = {
  /** The agent's data-plane key of a generation, while it is accepted; undefined → 401. */
  signingKey: (generation: number) => Uint8Array | undefined;
  /** True until the agent's first key is known: an unknown generation then answers 503, not 401. */
  keyPending?: (() => boolean) | undefined;
  /** Nonces seen within the signature window. */
  nonces: NonceCache;
  bodyLimitBytes: number;
  maxSkewSeconds?: number | undefined;
  /** A POST (an infer call, billed by this agent) must name who is calling. */
  usageRequired?: boolean;
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
 * Authenticates a request and returns its body. Header, clock and nonce checks come first, so an unsigned or
 * replayed request is refused before its body is read; the HMAC covers the body, so it is checked last, and
 * only then is the nonce remembered (an unsigned request cannot use up a nonce or the window's room).
 */
export async function readSignedBody(request: SignedRequest, options: AuthOptions): Promise<Uint8Array> {
  const deploymentId = request.header(SIGNATURE_HEADERS.deployment) ?? '';
  const timestamp = parseSignatureTimestamp(request.header(SIGNATURE_HEADERS.timestamp));
  const signature = request.header(SIGNATURE_HEADERS.signature) ?? '';
  const nonce = request.header(SIGNATURE_HEADERS.nonce) ?? '';
  const keyGeneration = parseKeyGeneration(request.header(SIGNATURE_HEADERS.keyGeneration));
  if (
    !isValidDeploymentId(deploymentId) ||
    timestamp === undefined ||
    signature === '' ||
    !isValidNonce(nonce) ||
    keyGeneration === undefined
  )
    throw new SignatureError('missing or malformed edge signature headers');
  const nowMs = options.nowMs();
  const skew = options.maxSkewSeconds ?? SIGNATURE_MAX_SKEW_SECONDS;
  if (!isTimestampFresh(timestamp, Math.floor(nowMs / 1000), skew))
    throw new SignatureError('edge signature timestamp is outside the allowed window');
  const key = options.signingKey(keyGeneration);
  if (key === undefined) {
    if (options.keyPending?.()) throw new KeyNotYetKnownError();
    throw new SignatureError('unknown data-plane key generation');
  }
  if (options.nonces.seen(nonce, nowMs)) throw new SignatureError('replayed request');
  const usage = parseUsageHeaders(request.header);
  if (options.usageRequired && request.method === 'POST' && usage === undefined)
    throw new SignatureError('a signed infer call must name the org it is billed to');
  const body = await request.readBody(options.bodyLimitBytes);
  const fields = {
    method: request.method,
    target: request.target,
    body,
    deploymentId,
    timestamp,
    nonce,
    keyGeneration,
    contentType: request.header('content-type') ?? '',
    inferenceHeaderContentLength: request.header(INFERENCE_HEADER_CONTENT_LENGTH) ?? '',
    usage,
  };
  if (!verifyEdgeSignature(key, fields, signature)) throw new SignatureError('bad edge signature');
  // Remembered until the timestamp leaves the window (+1 s for the rounding of "now" to seconds).
  const remembered = options.nonces.remember(nonce, (timestamp + skew + 1) * 1000, options.nowMs());
  if (remembered === 'replayed') throw new SignatureError('replayed request');
  if (remembered === 'full') throw new ReplayWindowFullError();
  return body;
}
