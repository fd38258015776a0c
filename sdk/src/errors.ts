/** The error codes the Meridian API answers with (`{"error":{"code","message","requestId"}}`). */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'validation_failed'
  | 'unauthenticated'
  | 'payment_required'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'too_many_requests'
  | 'internal'
  | 'unavailable';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An answer of the API other than 2xx, with the code, message and request id the server gave. */
export class MeridianError extends Error {
  override readonly name: string = 'MeridianError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    message: string,
    readonly requestId: string | undefined,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The code the server sent; undefined where it sent none (`code` is then `http_<status>`, made up here). */
  get serverCode(): string | undefined {
    return this.code === `http_${this.status}` ? undefined : this.code;
  }
}

export class BadRequestError extends MeridianError {
  override readonly name = 'BadRequestError';
}
export class UnauthenticatedError extends MeridianError {
  override readonly name: string = 'UnauthenticatedError';
}
/**
 * The server refused to renew a user login (its refresh token is expired or revoked: a logout elsewhere, a
 * removal from the organisation): only logging in again helps.
 */
export class LoginEndedError extends UnauthenticatedError {
  override readonly name = 'LoginEndedError';
}
export class PaymentRequiredError extends MeridianError {
  override readonly name = 'PaymentRequiredError';
}
export class ForbiddenError extends MeridianError {
  override readonly name = 'ForbiddenError';
}
export class NotFoundError extends MeridianError {
  override readonly name = 'NotFoundError';
}
export class ConflictError extends MeridianError {
  override readonly name = 'ConflictError';
}
export class PayloadTooLargeError extends MeridianError {
  override readonly name = 'PayloadTooLargeError';
}
export class UnprocessableError extends MeridianError {
  override readonly name = 'UnprocessableError';
}
/**
 * A model file refused by uploadModelVersion before a byte was sent, for a format the API would refuse: the
 * status, code and message of the API's own 415, so code that handles that answer handles this too. No
 * request was made, so `requestId` is undefined.
 */
export class UnsupportedModelFormatError extends MeridianError {
  override readonly name = 'UnsupportedModelFormatError';
}
export class RateLimitedError extends MeridianError {
  override readonly name = 'RateLimitedError';
  /** Seconds the server asked to wait (Retry-After), when it said. */
  retryAfterSeconds: number | undefined;
}
export class ServerError extends MeridianError {
  override readonly name = 'ServerError';
}

/** The server could not be reached, or the connection broke before an answer came. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`Could not reach ${url}: ${describeCause(cause)}`, { cause });
  }
}

/**
 * A wait (waitForDeployment, waitForRollout, waitForNotebook) ran past its timeout with the resource still on
 * its way: neither done nor failed. The message names the resource and the state it was last seen in.
 */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/** A deployment ended in `failed`; `reason` is the server's statusReason. */
export class DeploymentFailedError extends Error {
  override readonly name = 'DeploymentFailedError';
  constructor(
    readonly deploymentId: string,
    readonly reason: string,
  ) {
    super(`Deployment ${deploymentId} failed: ${reason}`);
  }
}

/** A notebook that did not come to serve: it failed (with the server's reason) or was stopped meanwhile. */
export class NotebookFailedError extends Error {
  override readonly name = 'NotebookFailedError';
  constructor(
    readonly notebookId: string,
    readonly reason: string,
  ) {
    super(`Notebook ${notebookId} did not start: ${reason}`);
  }
}

/** Why no link opens a notebook for this client: not the notebook's owner, or an API key instead of a login. */
export class NotebookLinkError extends Error {
  override readonly name = 'NotebookLinkError';
}

/**
 * A canary rollout ended without its version serving: rolled back (its 5xx rate or p95 was worse, or its
 * replica failed to load), cancelled or superseded. `reason` is the server's, with the figures it judged.
 */
export class RolloutFailedError extends Error {
  override readonly name = 'RolloutFailedError';
  constructor(
    readonly deploymentId: string,
    readonly state: 'rolled_back' | 'cancelled' | 'superseded',
    readonly reason: string,
  ) {
    // The server's reason already names the canary and how it ended.
    super(`Deployment ${deploymentId}: ${reason}`);
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  const code = inner && typeof inner === 'object' && 'code' in inner ? String(inner.code) : undefined;
  return code ? `${cause.message} (${code})` : cause.message;
}

const BY_STATUS: Record<number, typeof MeridianError> = {
  400: BadRequestError,
  401: UnauthenticatedError,
  402: PaymentRequiredError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: UnprocessableError,
  429: RateLimitedError,
};

/** The typed error for a non-2xx response: the API's envelope, OIP's `{"error": "…"}`, or plain text. */
export async function errorFromResponse(res: Response): Promise<MeridianError> {
  const text = await res.text().catch(() => '');
  let code = `http_${res.status}`;
  let message = text.slice(0, 500) || res.statusText || `HTTP ${res.status}`;
  let requestId = res.headers.get('x-request-id') ?? undefined;
  let details: ErrorDetail[] = [];
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown; requestId?: unknown };
    if (typeof body.error === 'string') {
      // OIP's shape; the edge puts its code and request id beside the message.
      message = body.error;
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.requestId === 'string') requestId = body.requestId;
    } else if (body.error && typeof body.error === 'object') {
      const e = body.error as {
        code?: string;
        message?: string;
        requestId?: string;
        details?: ErrorDetail[];
      };
      code = e.code ?? code;
      message = e.message ?? message;
      requestId = e.requestId ?? requestId;
      details = Array.isArray(e.details) ? e.details : [];
    }
  } catch {
    // Not JSON: keep the text.
  }
  const Type = BY_STATUS[res.status] ?? (res.status >= 500 ? ServerError : MeridianError);
  const error = new Type(res.status, code, message, requestId, details);
  if (error instanceof RateLimitedError) {
    const retryAfter = Number(res.headers.get('retry-after'));
    error.retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  }
  return error;
}
