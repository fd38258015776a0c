import { z } from 'zod';

/**
 * `GET /internal/v1/sessions/{sid}`: whether a user's login (the `sid` of their access tokens) still holds.
 * `revoked` after logout, refresh-token reuse, a password change or removal from the org; the edge caches
 * it like an API key record and refuses the session's tokens once it learns it.
 */
export const SessionStatus = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('active'),
    sessionId: z.string(),
    userId: z.string(),
    orgId: z.string(),
    /**
     * When the login ends unless it is refreshed (its newest refresh token's expiry, ISO 8601): what a
     * browser session bound to the login (the notebook cookie) lives until. Absent from older control planes.
     */
    expiresAt: z.string().nullable().optional(),
  }),
  z.object({ status: z.enum(['revoked', 'unknown']) }),
]);
export type SessionStatus = z.infer<typeof SessionStatus>;

/** A session id as the control plane issues it (`rtf_` + 26 characters); a little slack either way. */
export const SessionId = z.string().regex(/^[a-z]{2,8}_[0-9A-Za-z]{10,64}$/);
