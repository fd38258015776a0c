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

/** How much of a caller's own text (a model name, a version, an input name) an error message echoes. */
export const ECHO_MAX_CHARS = 64;
// C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and isolates; each of
// them echoed raw would break a log line or a terminal, or make the message read other than it is.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * A caller's text as an error message may quote it: its first 64 characters (code points), then `…` when
 * there was more, with each unprintable character written as a `\u` escape. A 4 KB name comes back as 65
 * characters, and a newline in it as `\u000a`. Only for error paths: callers' text on success is theirs.
 */
export function echoed(text: string): string {
  // Sliced before it is split: a name may be megabytes (a simple-JSON input's key), and two code units per
  // code point is enough to tell whether there are more than 64.
  const chars = Array.from(text.slice(0, 2 * ECHO_MAX_CHARS + 2));
  const head = chars.slice(0, ECHO_MAX_CHARS).join('');
  const shown = head.replace(
    UNPRINTABLE,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return chars.length > ECHO_MAX_CHARS ? `${shown}…` : shown;
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
