/** What a handler answers: a status, a JSON body and extra headers. */
export interface StripeReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

/** Stripe's error body: `{"error":{"type","message","code?","param?","doc_url?"}}`. */
export function stripeError(
  status: number,
  type: StripeErrorType,
  message: string,
  extra: { code?: string; param?: string; shouldRetry?: boolean; headers?: Record<string, string> } = {},
): StripeReply {
  const error: Record<string, string> = { type, message };
  if (extra.code) {
    error.code = extra.code;
    error.doc_url = `https://stripe.com/docs/error-codes/${extra.code.replaceAll('_', '-')}`;
  }
  if (extra.param) error.param = extra.param;
  const headers: Record<string, string> = { ...extra.headers };
  if (extra.shouldRetry !== undefined) headers['stripe-should-retry'] = String(extra.shouldRetry);
  return { status, body: { error }, headers };
}

export const ok = (body: unknown): StripeReply => ({ status: 200, body });

export const missingParam = (param: string) =>
  stripeError(400, 'invalid_request_error', `Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
  });

export const invalidParam = (param: string, message: string) =>
  stripeError(400, 'invalid_request_error', message, { code: 'parameter_invalid_string', param });

export const unknownParam = (param: string) =>
  stripeError(
    400,
    'invalid_request_error',
    `Received unknown parameter: ${param}. Did you mean to pass it in a nested object?`,
    { code: 'parameter_unknown', param },
  );

export const noSuch = (what: string, id: string, param = 'id') =>
  stripeError(404, 'invalid_request_error', `No such ${what}: '${id}'`, { code: 'resource_missing', param });

export const unrecognizedUrl = (method: string, path: string) =>
  stripeError(
    404,
    'invalid_request_error',
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  );

/** Stripe's account-wide rate limit. */
export const rateLimited = (retryAfterSeconds?: number) =>
  stripeError(
    429,
    'invalid_request_error',
    'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
    {
      code: 'rate_limit',
      shouldRetry: true,
      ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
    },
  );

/** Another request holds the object (for meter events: the same customer and meter). */
export const lockTimeout = (retryAfterSeconds?: number) =>
  stripeError(
    429,
    'invalid_request_error',
    'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.',
    {
      code: 'lock_timeout',
      shouldRetry: true,
      ...(retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(retryAfterSeconds) } } : {}),
    },
  );

export const serverError = () =>
  stripeError(500, 'api_error', 'An unknown error occurred while processing your request.');
