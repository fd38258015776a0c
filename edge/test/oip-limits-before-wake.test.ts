import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer } from './helpers/auth-app.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, snapshot, version } from './helpers/routing-fixtures.js';

// Limits and quota come before a deployment at zero is woken: a call they refuse is answered 429 at once,
// starts no replica (which the org would pay for) and waits for none. A call that does get through waits out
// the hold, unanswered (the wake only ever says "starting"), so "at once" is "well within the hold": the
// refusals are timed against a 2 s hold (a loaded CI machine took 301 ms over a cold first call, past the
// 200 ms hold this used to be timed against), and the case that only counts units keeps a short one.
const HOLD_MS = 2_000;
const AT_ONCE_MS = HOLD_MS / 2;

let world: OipWorld;
let orgId: string;

async function infer(key: string, name: string) {
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await world.app.request(
    `/v2/models/${name}/infer`,
    {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }),
    },
    world.env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { res, ms: Date.now() - started };
}

function atZero(name: string, holdMs = HOLD_MS) {
  world.routing = snapshot(1, [
    deployment(name, [version(1, 100, [])], {
      orgId,
      deploymentId: `dep_${name}`,
      hold: { maxWaitMs: holdMs },
    }),
  ]);
}

beforeEach(() => {
  world = new OipWorld().install();
  orgId = uniqueId('org');
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('limits before a wake', () => {
  it('refuses a call over the monthly quota with 429 at once, waking nothing', async () => {
    world.cp.addOrg(orgId, { monthlyCallQuota: 0 });
    const key = await world.cp.addKey({ orgId });
    const name = uniqueId('idle');
    atZero(name);

    const { res, ms } = await infer(key, name);

    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: unknown }).error).toEqual(expect.stringContaining('quota'));
    expect(world.wakes).toEqual([]);
    expect(ms).toBeLessThan(AT_ONCE_MS);
  });

  it('refuses a call over a key’s rate limit with 429 at once, after the call within it woke the model', async () => {
    const key = await world.cp.addKey({
      orgId,
      rateLimits: [{ name: 'burst', limit: 1, periodSeconds: 60 }],
    });
    const name = uniqueId('idle');
    atZero(name);

    const first = await infer(key, name);
    expect(first.res.status).toBe(503);
    const woken = world.wakes.length;
    expect(woken).toBeGreaterThan(0);

    const second = await infer(key, name);
    expect(second.res.status).toBe(429);
    expect(second.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(world.wakes).toHaveLength(woken);
    expect(second.ms).toBeLessThan(AT_ONCE_MS);
  });

  it('gives the quota unit of a call that no replica answered back', async () => {
    world.cp.addOrg(orgId, { monthlyCallQuota: 1 });
    const key = await world.cp.addKey({ orgId });
    const name = uniqueId('idle');
    atZero(name, 200);

    // Unanswered twice (no replica in the hold's 200 ms), each call's unit comes back: the third is not 429.
    for (let i = 0; i < 3; i++) expect((await infer(key, name)).res.status).toBe(503);
  });
});
