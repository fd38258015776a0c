import type { Role } from '../db/schema.js';

// Who calls, as services see it. Both the HTTP layer (which authenticates) and the services (which
// authorise and audit) look down to this file; services never import from http/.

/** Who is calling. The org always comes from the credential, never from the URL. */
export type Principal =
  | { type: 'user'; userId: string; orgId: string; role: Role; sessionId: string }
  | { type: 'api_key'; keyId: string; orgId: string; scopes: string[]; roleCap: Role };

/** What a service needs to know about the caller to authorise and audit a mutation. */
export interface Actor {
  principal: Principal;
  requestId: string;
  clientIp: string | null;
}
