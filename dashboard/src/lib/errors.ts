import { MeridianError } from '@meridian/sdk';

/** The API's own message (and request id) for an error, as users should see it. */
export function messageOf(error: unknown): { message: string; code?: string; requestId?: string } {
  if (error instanceof MeridianError) {
    const details = error.details.map((d) => `${d.path}: ${d.message}`).join('; ');
    return {
      message: details ? `${error.message} (${details})` : error.message,
      // A code made up from the status alone (`http_400`, where the server sent none) would only repeat it.
      ...(error.code === `http_${error.status}` ? {} : { code: error.code }),
      ...(error.requestId ? { requestId: error.requestId } : {}),
    };
  }
  if (error instanceof Error) return { message: error.message };
  return { message: String(error) };
}
