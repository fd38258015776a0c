import type { Role } from '../db/schema.js';

/** Who is calling. The org always comes from the credential, never from the URL. */
export type Principal =
  | { type: 'user'; userId: string; orgId: string; role: Role; sessionId: string }
  | { type: 'api_key'; keyId: string; orgId: string; scopes: string[]; roleCap: Role };

/** Per-request values handlers read from the hono context. */
export interface AppVariables {
  requestId: string;
  clientIp: string | null;
  principal: Principal;
}

export interface AppEnv {
  Variables: AppVariables;
}

/** What a service needs to know about the caller to authorise and audit a mutation. */
export interface Actor {
  principal: Principal;
  requestId: string;
  clientIp: string | null;
}
