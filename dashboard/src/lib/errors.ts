import { MeridianError } from '@meridian/sdk';

/** The API's own message (and request id) for an error, as users should see it. */
export function messageOf(error: unknown): { message: string; code?: string; requestId?: string } {
  if (error instanceof MeridianError) {
    const details = error.details.map((d) => `${d.path}: ${d.message}`).join('; ');
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
