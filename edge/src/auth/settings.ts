import { z } from 'zod';
import type { Env } from '../env.js';
import type { LookupPolicy } from './cached-lookup.js';

/** Unknown keys, revoked keys and missing orgs are remembered this long in an isolate. */
export const NEGATIVE_TTL_MS = 5_000;

const Seconds = z.coerce.number().nonnegative().max(86_400);

function seconds(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const parsed = Seconds.safeParse(raw);
  if (!parsed.success) throw new Error(`${name} must be a number of seconds, got ${JSON.stringify(raw)}`);
  return parsed.data;
}

/** The policy last parsed and the vars it came from. */
let lastParsed:
  | { cacheSeconds: string | undefined; freshSeconds: string | undefined; policy: LookupPolicy }
  | undefined;

/**
 * The key/org cache policy from the Worker's vars. Revocation bound while the control plane is reachable:
 * KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS (10 + 20 s by default).
 */
export function lookupPolicy(env: Pick<Env, 'KEY_CACHE_SECONDS' | 'KEY_KV_FRESH_SECONDS'>): LookupPolicy {
  // Every authenticated call asks twice (key, then org): the vars are parsed again only when they change.
  const { KEY_CACHE_SECONDS: cacheSeconds, KEY_KV_FRESH_SECONDS: freshSeconds } = env;
  const last = lastParsed;
  if (last && last.cacheSeconds === cacheSeconds && last.freshSeconds === freshSeconds) return last.policy;
  const policy: LookupPolicy = Object.freeze({
    positiveTtlMs: seconds(cacheSeconds, 10, 'KEY_CACHE_SECONDS') * 1000,
    negativeTtlMs: NEGATIVE_TTL_MS,
    kvFreshMs: seconds(freshSeconds, 20, 'KEY_KV_FRESH_SECONDS') * 1000,
  });
  lastParsed = { cacheSeconds, freshSeconds, policy };
  return policy;
}
