import { randomUUID } from 'node:crypto';

/** The header the edge sends (and echoes) with its request id. */
export const REQUEST_ID_HEADER = 'x-request-id';

// The id lands in logs and error bodies, so only short, plain tokens are taken as sent (as the edge does).
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The request id the edge sent, or a fresh one when it sent none (or one not safe to log). */
export function requestIdOf(header: string | undefined): string {
  return header !== undefined && VALID_REQUEST_ID.test(header) ? header : randomUUID();
}
