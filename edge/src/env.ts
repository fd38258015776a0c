import type { OrgLimiter } from './limits/org-limiter.js';

/**
 * Bindings the edge Worker receives (wrangler.toml). Vars are strings, parsed where they are used, with defaults.
 * Secrets (`wrangler secret put`): EDGE_SERVICE_TOKEN, DATA_PLANE_SIGNING_KEY.
 */
export interface Env {
  /** Base URL of the control plane's /internal routes. */
  CONTROL_PLANE_URL: string;
  /** The edge's bearer credential for the control plane's /internal routes (secret). */
  EDGE_SERVICE_TOKEN: string;
  /** Key of the HMAC signature agents require on data-plane requests (secret). */
  DATA_PLANE_SIGNING_KEY: string;
  /** Key records, org status and the routing snapshot: read-through cache, and what serves when the control plane is down. */
  EDGE_KV: KVNamespace;
  /** One per org: exact rate limits, the monthly quota, and the durable usage buffer. */
  ORG_LIMITER: DurableObjectNamespace<OrgLimiter>;
  /** Seconds an isolate trusts a key or org record before asking again (revocation bound, part 1). */
  KEY_CACHE_SECONDS?: string;
  /** Seconds a record in KV counts as fresh before the control plane is asked (revocation bound, part 2). */
  KEY_KV_FRESH_SECONDS?: string;
  /** Seconds between routing snapshot pulls. */
  ROUTING_REFRESH_SECONDS?: string;
  /** Longest wait of a call held for a deployment with no ready replica, unless its routing says (default 30 s). */
  HOLD_MAX_WAIT_MS?: string;
  /** Most calls held per deployment and isolate, unless its routing says (default 1,000). */
  HOLD_MAX_COUNT?: string;
  /** Most body bytes held per deployment, unless its routing says, and per isolate (default 64 MiB). */
  HOLD_MAX_BYTES?: string;
  /** Per-attempt timeout of a forwarded prediction. */
  UPSTREAM_TIMEOUT_MS?: string;
  /** Seconds an isolate may spend a leased block of allowance before unspent units go back (default 5). */
  LIMIT_LEASE_SECONDS?: string;
  /** Seconds between usage flushes from each org's limiter to the control plane. */
  USAGE_FLUSH_SECONDS?: string;
  /** Notebooks open at `nb-<id>.<this domain>`, an origin each (default notebooks.localhost); as the control plane's MERIDIAN_NOTEBOOK_DOMAIN. */
  NOTEBOOK_DOMAIN?: string;
  /** Comma-separated origins of the web dashboard, whose pages may call the edge (CORS); default none. */
  DASHBOARD_ORIGINS?: string;
  /** Seconds an isolate aggregates per-deployment metrics before sending them (default 10, at most 25). */
  METRICS_FLUSH_SECONDS?: string;
}
