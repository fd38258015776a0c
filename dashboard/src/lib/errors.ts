import { LoginEndedError, MeridianError } from '@meridian/sdk';

/** The API's own message (and request id) for an error, as users should see it. */
export function messageOf(error: unknown): { message: string; code?: string; requestId?: string } {
  // The API's words here ("No refresh token in the body or the session cookie") are about its wire, not the
  // person: what they need to know is that they are to log in again (the login dialog is open by then).
  if (error instanceof LoginEndedError)
    return {
      message: 'Your session has ended: log in again to see this',
      ...(error.serverCode ? { code: error.serverCode } : {}),
      ...(error.requestId ? { requestId: error.requestId } : {}),
    };
  if (error instanceof MeridianError) {
    // A refused field the message already names (`name: must be at most 100 characters`) is not said twice.
    const details = error.details
      .map((d) => `${d.path}: ${d.message}`)
      .filter((line) => !error.message.includes(line))
      .join('; ');
    return {
      message: details ? `${error.message} (${details})` : error.message,
      // Where the server sent no code, a made-up `http_400` would only repeat the status.
      ...(error.serverCode ? { code: error.serverCode } : {}),
      ...(error.requestId ? { requestId: error.requestId } : {}),
    };
  }
  if (error instanceof Error) return { message: error.message };
  return { message: String(error) };
}

/**
 * Whether an error says that the thing a page's address names is not there for this user: the API's 404, or
 * its refusal of an id that cannot be one (a mistyped or cut-off link). A deleted thing and another
 * organisation's answer the same 404, so a page cannot tell them apart, and need not.
 */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof MeridianError)) return false;
  if (error.status === 404) return true;
  return error.status === 400 && error.details.length > 0 && error.details.every((d) => d.path === 'id');
}
