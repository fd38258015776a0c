import { MeridianError } from '@meridian/sdk';

/** The API's own message (and request id) for an error, as users should see it. */
export function messageOf(error: unknown): { message: string; code?: string; requestId?: string } {
  if (error instanceof MeridianError) {
    const details = error.details.map((d) => `${d.path}: ${d.message}`).join('; ');
    return {
      message: details ? `${error.message} (${details})` : error.message,
      code: error.code,
      ...(error.requestId ? { requestId: error.requestId } : {}),
    };
  }
  if (error instanceof Error) return { message: error.message };
  return { message: String(error) };
}
