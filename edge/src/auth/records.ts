import { createHash } from 'node:crypto';
import { ApiKeyResolution, OrgStatus, SessionStatus } from '@meridian/protocol';
import { ControlPlaneClient } from '../control-plane.js';
import type { Env } from '../env.js';
import { CachedLookup } from './cached-lookup.js';
import { lookupPolicy } from './settings.js';

type RecordEnv = Pick<
  Env,
  'CONTROL_PLANE_URL' | 'EDGE_SERVICE_TOKEN' | 'EDGE_KV' | 'KEY_CACHE_SECONDS' | 'KEY_KV_FRESH_SECONDS'
>;

// One cache per isolate, shared by every request it serves; the size bound caps memory, not correctness.
const keys = new CachedLookup<ApiKeyResolution>({
  prefix: 'key:',
  schema: ApiKeyResolution,
  isNegative: (resolution) => resolution.status !== 'active',
  maxEntries: 10_000,
});

const orgs = new CachedLookup<OrgStatus | null>({
  prefix: 'org:',
  schema: OrgStatus.nullable(),
  isNegative: (status) => status === null,
  maxEntries: 10_000,
});

const sessions = new CachedLookup<SessionStatus>({
  prefix: 'ses:',
  schema: SessionStatus,
  isNegative: (status) => status.status !== 'active',
  maxEntries: 10_000,
});

const MAX_KEY_HASHES = 10_000;
// A warm key's hash, so its calls skip the hash: workerd's node:crypto builds a stream object per hash,
// ~5% of the edge's CPU under load. Holds keys the isolate has already seen in requests; bounded.
const keyHashes = new Map<string, string>();

/** Lower-case hex SHA-256 of an API key's full plaintext: how the control plane stores and resolves it. */
export async function hashApiKey(key: string): Promise<string> {
  let hash = keyHashes.get(key);
  if (hash === undefined) {
    // Synchronous node:crypto in workerd: one less promise round trip on every authenticated call.
    hash = createHash('sha256').update(key).digest('hex');
    if (keyHashes.size >= MAX_KEY_HASHES) keyHashes.clear();
    keyHashes.set(key, hash);
  }
  return hash;
}

/** The request's waitUntil, when there is a request: records due for refresh are then refreshed after it. */
export type Background = ((promise: Promise<unknown>) => void) | undefined;

function client(env: RecordEnv, background: boolean): ControlPlaneClient {
  return new ControlPlaneClient(env, { background });
}

/** What the control plane says about a key hash, through the isolate → KV → control plane cache. */
export function resolveKeyHash(
  env: RecordEnv,
  hash: string,
  waitUntil?: Background,
): Promise<ApiKeyResolution> {
  return keys.get(hash, {
    kv: env.EDGE_KV,
    load: (background) => client(env, background).resolveKey(hash),
    policy: lookupPolicy(env),
    ...(waitUntil ? { waitUntil } : {}),
  });
}

/** The org's plan, quota and standing (null: no such org), cached like key records under `org:<id>`. */
export function lookUpOrgStatus(
  env: RecordEnv,
  orgId: string,
  waitUntil?: Background,
): Promise<OrgStatus | null> {
  return orgs.get(orgId, {
    kv: env.EDGE_KV,
    load: async (background) => (await client(env, background).orgStatus(orgId)) ?? null,
    policy: lookupPolicy(env),
    ...(waitUntil ? { waitUntil } : {}),
  });
}

/**
 * Whether a user's session (the `sid` of a verified access token) still holds, cached like key records
 * under `ses:<sid>`: a logout is learnt within the key-revocation bound, with no control-plane call per
 * prediction once warm.
 */
export function lookUpSession(
  env: RecordEnv,
  sessionId: string,
  waitUntil?: Background,
): Promise<SessionStatus> {
  return sessions.get(sessionId, {
    kv: env.EDGE_KV,
    load: (background) => client(env, background).session(sessionId),
    policy: lookupPolicy(env),
    ...(waitUntil ? { waitUntil } : {}),
  });
}
