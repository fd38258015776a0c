import type { ApiKeyRateLimit, OrgStatus } from '@meridian/protocol';

/** Who is calling, once authenticated: an API key or a user's access token, with its org's standing. */
export interface Caller {
  kind: 'api_key' | 'user';
  orgId: string;
  /** Set for API keys. */
  keyId: string | null;
  /** Set for user tokens. */
  userId: string | null;
  /** API-key scopes (`predict`, `predict:<deployment>`, …); a user token may predict in its org. */
  scopes: string[];
  /** Named per-key limits, checked together; none for user tokens. */
  rateLimits: ApiKeyRateLimit[];
  org: OrgStatus;
}

/** Hono variables the edge's middleware sets. */
export type EdgeVariables = { requestId: string; caller: Caller };
