import type { ApiKeyRateLimit } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '../src/caller.js';
import { EdgeError } from '../src/errors.js';
import { type Admission, admit } from '../src/limits/admit.js';
import { testEnv } from './helpers/auth-env.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';

// Every admission goes to the real OrgLimiter Durable Object (SQLite storage) inside workerd. The test and
// the object share an isolate, so fake Date moves the object's clock too. The time is set in the future so
// that the usage alarm an admission schedules never fires by itself during a test.

const env = testEnv();
const HOUR = Date.UTC(2031, 4, 14, 9); // 2031-05-14T09:00:00Z
const MONTH_END = Date.UTC(2031, 5, 1);

function keyCaller(
  orgId: string,
  options: { rateLimits?: ApiKeyRateLimit[]; quota?: number | null; keyId?: string } = {},
): Caller {
  return {
    kind: 'api_key',
    orgId,
    keyId: options.keyId ?? uniqueId('key'),
    userId: null,
    scopes: ['predict'],
    rateLimits: options.rateLimits ?? [],
    org: {
      orgId,
      plan: 'free',
      monthlyCallQuota: options.quota === undefined ? 1_000 : options.quota,
      suspended: false,
      suspendedReason: null,
    },
  };
}

function userCaller(orgId: string, quota: number | null): Caller {
  return {
    ...keyCaller(orgId, { quota }),
    kind: 'user',
    keyId: null,
    userId: uniqueId('usr'),
    rateLimits: [],
  };
}

/** The admission, or the 429 it was refused with. */
async function tryAdmit(caller: Caller): Promise<Admission | EdgeError> {
  try {
    return await admit(env, caller);
  } catch (err) {
    if (err instanceof EdgeError) return err;
    throw err;
  }
}

async function refusal(caller: Caller): Promise<EdgeError> {
  const outcome = await tryAdmit(caller);
  if (!(outcome instanceof EdgeError)) throw new Error('expected the call to be refused');
  return outcome;
}

async function admitted(caller: Caller): Promise<Admission> {
  const outcome = await tryAdmit(caller);
  if (outcome instanceof EdgeError) throw new Error(`expected an admission, got: ${outcome.message}`);
  return outcome;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(HOUR + 10_000);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('monthly quota', () => {
  it('admits exactly 1,000 of 1,250 calls from 50 concurrent callers against a 1,000-call quota', async () => {
    const orgId = uniqueId('org');
    const callers = Array.from({ length: 50 }, () => keyCaller(orgId, { quota: 1_000 }));

    const outcomes = await Promise.all(
      callers.map(async (caller) => {
        const mine: (Admission | EdgeError)[] = [];
        for (let i = 0; i < 25; i++) mine.push(await tryAdmit(caller));
        return mine;
      }),
    );

    const all = outcomes.flat();
    const refused = all.filter((o): o is EdgeError => o instanceof EdgeError);
    expect(all.length - refused.length).toBe(1_000);
    expect(refused).toHaveLength(250);
    expect(
      refused.every((e) => e.code === 'too_many_requests' && e.message.includes('monthly call quota')),
    ).toBe(true);
  });

  it('refuses with Retry-After until the next calendar month and RateLimit headers', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, { quota: 2 });
    await admitted(caller);
    const last = await admitted(caller);
    expect(last.headers.RateLimit).toBe(`"org:monthly";r=0;t=${(MONTH_END - HOUR - 10_000) / 1000}`);

    const error = await refusal(caller);

    const wait = (MONTH_END - HOUR - 10_000) / 1000;
    expect(error.headers).toEqual({
      'Retry-After': String(wait),
      'RateLimit-Policy': `"org:monthly";q=2;w=${31 * 86_400}`,
      RateLimit: `"org:monthly";r=0;t=${wait}`,
    });
    expect(error.message).toBe(
      'Too many requests: the monthly call quota of 2 calls is used up until 2031-06-01T00:00:00.000Z. ' +
        'A larger plan raises the quota: `meridian plan set pro`, the dashboard’s Usage page, or `PUT /v1/billing/plan`.',
    );
  });

  it('counts calls from every key and user of the org against the same quota', async () => {
    const orgId = uniqueId('org');
    await admitted(keyCaller(orgId, { quota: 3 }));
    await admitted(keyCaller(orgId, { quota: 3 }));
    await admitted(userCaller(orgId, 3));

    expect((await refusal(userCaller(orgId, 3))).code).toBe('too_many_requests');
  });

  it('starts over in a new month', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, { quota: 1 });
    await admitted(caller);
    await refusal(caller);

    vi.setSystemTime(MONTH_END);

    expect((await admitted(caller)).headers.RateLimit).toMatch(/^"org:monthly";r=0;/);
  });

  it('never refuses an org without a quota, and sends no headers for it', async () => {
    const caller = userCaller(uniqueId('org'), null);

    for (let i = 0; i < 20; i++) expect((await admitted(caller)).headers).toEqual({});
  });

  it('gives the quota unit back when the upstream call failed, but not the rate-limit unit', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, {
      quota: 2,
      rateLimits: [{ name: 'hourly', limit: 2, periodSeconds: 3600 }],
    });

    const failed = await admitted(caller);
    failed.failed();
    const second = await admitted(caller);

    // Quota: 1 of 2 used (the failed call was refunded). Rate limit: 2 of 2 used (not refunded).
    expect(second.headers.RateLimit).toBe(
      `"hourly";r=0;t=3590, "org:monthly";r=1;t=${(MONTH_END - HOUR - 10_000) / 1000}`,
    );
    const error = await refusal(caller);
    expect(error.message).toContain('rate limit "hourly"');
    expect(error.message).not.toContain('quota');
  });
});

describe('named rate limits', () => {
  const limits: ApiKeyRateLimit[] = [
    { name: 'per-minute', limit: 2, periodSeconds: 60 },
    { name: 'hourly', limit: 5, periodSeconds: 3600 },
  ];

  it('reports what is left of every limit on an admitted call', async () => {
    const admission = await admitted(keyCaller(uniqueId('org'), { rateLimits: limits, quota: 10 }));

    expect(admission.headers).toEqual({
      'RateLimit-Policy': '"per-minute";q=2;w=60, "hourly";q=5;w=3600, "org:monthly";q=10;w=2678400',
      RateLimit: `"per-minute";r=1;t=50, "hourly";r=4;t=3590, "org:monthly";r=9;t=${(MONTH_END - HOUR - 10_000) / 1000}`,
    });
  });

  it('refuses when one limit is exhausted and consumes nothing from the others', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, { rateLimits: limits, quota: 10 });
    await admitted(caller);
    await admitted(caller);

    for (let i = 0; i < 3; i++) {
      const error = await refusal(caller);
      expect(error.message).toContain('rate limit "per-minute"');
      expect(error.headers['Retry-After']).toBe('50');
    }

    // Next minute: the per-minute window is new; hourly and the quota show only the 3 admitted calls.
    vi.setSystemTime(HOUR + 60_000);
    const admission = await admitted(caller);
    expect(admission.headers.RateLimit).toMatch(
      /^"per-minute";r=1;t=60, "hourly";r=2;t=3540, "org:monthly";r=7;/,
    );
  });

  it('keeps each key’s limits apart within one org', async () => {
    const orgId = uniqueId('org');
    const one = keyCaller(orgId, { rateLimits: [{ name: 'burst', limit: 1, periodSeconds: 60 }] });
    const two = keyCaller(orgId, { rateLimits: [{ name: 'burst', limit: 1, periodSeconds: 60 }] });

    await admitted(one);
    await refusal(one);

    await admitted(two);
  });

  it('is exact under concurrency: 40 concurrent calls against a limit of 7 admit 7', async () => {
    const caller = keyCaller(uniqueId('org'), {
      rateLimits: [{ name: 'burst', limit: 7, periodSeconds: 60 }],
    });

    const outcomes = await Promise.all(Array.from({ length: 40 }, () => tryAdmit(caller)));

    expect(outcomes.filter((o) => !(o instanceof EdgeError))).toHaveLength(7);
  });
});
