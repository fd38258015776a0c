import { type ErrorCode, type ErrorEnvelope, statusForErrorCode } from '@meridian/protocol';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** A domain error edge code throws; the app's one onError turns it into the envelope. */
export class EdgeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Sent with the error: Retry-After and RateLimit headers on a 429, for instance. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'EdgeError';
  }
}

/** Answers with the shared error envelope; the status follows from the code. */
export function respondWithError(c: Context, code: ErrorCode, message: string, requestId: string): Response {
  const body: ErrorEnvelope = { error: { code, message, requestId } };
  // Every ErrorCode maps to a 4xx/5xx status, all of which carry a body.
  return c.json(body, statusForErrorCode(code) as ContentfulStatusCode);
}
