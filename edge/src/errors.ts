import { type ErrorCode, type ErrorEnvelope, type OipError, statusForErrorCode } from '@meridian/protocol';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** A domain error edge code throws; the app's one onError turns it into the envelope. */
export class EdgeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Sent with the error: Retry-After and RateLimit headers on a 429, for instance. */
    readonly headers: Record<string, string> = {},
    /** A status more precise than the code's (431 for oversized request headers); the code's by default. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EdgeError';
  }
}

/** OIP's error body with the edge's code and request id beside the message, as OIP allows. */
export type OipErrorBody = OipError & { code?: ErrorCode; requestId: string };

/** Whether a path is an Open Inference Protocol route, whose errors take OIP's shape. */
export function isOipPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/');
}

/**
 * Answers with the error body of the route's protocol: OIP's `{"error":"<message>","code","requestId"}` on
 * `/v2/…` (clients such as tritonclient read `error` as a string), the shared envelope
 * `{"error":{"code","message","requestId"}}` everywhere else. The status follows from the code.
 */
export function respondWithError(
  c: Context,
  code: ErrorCode,
  message: string,
  requestId: string,
  statusOverride?: number,
): Response {
  // Every ErrorCode maps to a 4xx/5xx status, all of which carry a body.
  const status = (statusOverride ?? statusForErrorCode(code)) as ContentfulStatusCode;
  if (isOipPath(c.req.path))
    return c.json({ error: message, code, requestId } satisfies OipErrorBody, status);
  return c.json({ error: { code, message, requestId } } satisfies ErrorEnvelope, status);
}
