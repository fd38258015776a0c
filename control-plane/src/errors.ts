import type { ErrorCode } from '@meridian/protocol';

/** A domain error a service throws; the app's one onError turns it into the envelope. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { path: string; message: string }[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const conflict = (message: string) => new AppError('conflict', message);
export const unauthenticated = (message = 'Missing or invalid credentials') =>
  new AppError('unauthenticated', message);
/** A 400 about one field that only the service can judge (it depends on stored data or other fields). */
export const invalidField = (path: string, message: string) =>
  new AppError('validation_failed', `${path}: ${message}`, [{ path, message }]);
