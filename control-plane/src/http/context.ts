import type { Principal } from '../auth/principal.js';

/** Per-request values handlers read from the hono context. */
export interface AppVariables {
  requestId: string;
  clientIp: string | null;
  principal: Principal;
}

export interface AppEnv {
  Variables: AppVariables;
}
