import { type ErrorCode, type ErrorEnvelope, statusForErrorCode } from '@meridian/protocol';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../lib/logger.js';
import type { AppEnv } from './context.js';

export function errorResponse(
  c: Context<AppEnv>,
  code: ErrorCode,
  message: string,
  details?: ErrorEnvelope['error']['details'],
) {
  const body: ErrorEnvelope = { error: { code, message, requestId: c.var.requestId ?? 'unknown' } };
  if (details?.length) body.error.details = details;
  return c.json(body, statusForErrorCode(code) as ContentfulStatusCode);
}

/** How many refused fields the envelope's message names; its details list them all (up to 20). */
const FIELDS_IN_MESSAGE = 3;

/**
 * Turns zod issues into the envelope's details, a path and a message each, and a message that names the
 * fields as `path: words` (the form `invalidField` uses, which the CLI does not print twice).
 */
export function validationError(error: ZodError): AppError {
  const details = error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  const named = details.slice(0, FIELDS_IN_MESSAGE).map((d) => `${d.path}: ${d.message}`);
  const more = error.issues.length - named.length;
  const message = more > 0 ? `${named.join('; ')}; and ${more} more` : named.join('; ');
  return new AppError('validation_failed', message || 'The request is not valid', details);
}

/** The app's only error mapping: domain errors keep their code, anything unexpected is a logged 500. */
export function onError(logger: Logger): ErrorHandler<AppEnv> {
  return (err, c) => {
    if (err instanceof AppError) {
      for (const [name, value] of Object.entries(err.headers ?? {})) c.header(name, value);
      return errorResponse(c, err.code, err.message, err.details);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      if (status === 413) return errorResponse(c, 'payload_too_large', 'The request body is too large');
      if (status === 415)
        return errorResponse(c, 'unsupported_media_type', 'Send the body as application/json');
      if (status === 400 && /json/i.test(err.message)) {
        return errorResponse(c, 'invalid_json', 'The request body is not valid JSON');
      }
      if (status === 401) return errorResponse(c, 'unauthenticated', 'Missing or invalid credentials');
      if (status < 500) return errorResponse(c, 'bad_request', err.message || 'Bad request');
    }
    logger.error('unhandled error', { requestId: c.var.requestId, error: err });
    return errorResponse(c, 'internal', 'Internal error');
  };
}

export const onNotFound: NotFoundHandler<AppEnv> = (c) => errorResponse(c, 'not_found', 'No such route');
