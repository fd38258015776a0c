import { describe, expect, it } from 'vitest';
import { lookupPolicy, NEGATIVE_TTL_MS } from '../src/auth/settings.js';

// The policy is parsed once and reused while the vars stay the same; these check that reuse never serves
// a policy the current vars would not give.
describe('key cache policy from the Worker vars', () => {
  it('defaults to 10 s in the isolate and 20 s fresh in KV', () => {
    expect(lookupPolicy({})).toEqual({
      positiveTtlMs: 10_000,
      negativeTtlMs: NEGATIVE_TTL_MS,
      kvFreshMs: 20_000,
    });
  });

  it('reads the vars again when they change', () => {
    expect(lookupPolicy({ KEY_CACHE_SECONDS: '3', KEY_KV_FRESH_SECONDS: '4' })).toMatchObject({
      positiveTtlMs: 3_000,
      kvFreshMs: 4_000,
    });
    expect(lookupPolicy({ KEY_CACHE_SECONDS: '7', KEY_KV_FRESH_SECONDS: '4' })).toMatchObject({
      positiveTtlMs: 7_000,
      kvFreshMs: 4_000,
    });
    expect(lookupPolicy({ KEY_CACHE_SECONDS: '7' })).toMatchObject({
      positiveTtlMs: 7_000,
      kvFreshMs: 20_000,
    });
  });

  it('refuses a value that is not a number of seconds on every call, not only the first', () => {
    const env = { KEY_CACHE_SECONDS: 'ten' };
    expect(() => lookupPolicy(env)).toThrow(/KEY_CACHE_SECONDS must be a number of seconds/);
    expect(() => lookupPolicy(env)).toThrow(/KEY_CACHE_SECONDS must be a number of seconds/);
  });

  it('hands out a policy no caller can change for the next', () => {
    const policy = lookupPolicy({ KEY_CACHE_SECONDS: '5' });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(lookupPolicy({ KEY_CACHE_SECONDS: '5' })).toBe(policy);
  });
});
