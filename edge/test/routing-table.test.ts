import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { RoutingSnapshot } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../src/env.js';
import { EdgeError } from '../src/errors.js';
import {
  findById,
  findByName,
  ROUTING_KV_KEY,
  type RoutingEnv,
  RoutingTable,
  routingTable,
} from '../src/routing/routing-table.js';
import { deployment, json, replica, snapshot, version } from './helpers/routing-fixtures.js';

// The test pool's bindings are those of wrangler.toml; test/env.d.ts does not type them (yet).
const kv = (env as unknown as Pick<Env, 'EDGE_KV'>).EDGE_KV;

const routingEnv: RoutingEnv = {
  CONTROL_PLANE_URL: 'http://control-plane.test',
  EDGE_SERVICE_TOKEN: 'edge-token',
  EDGE_KV: kv,
  ROUTING_REFRESH_SECONDS: '2',
};

const v1 = snapshot(1, [deployment('fraud', [version(1, 100, [replica(1)])])]);
const v2 = snapshot(2, [deployment('fraud', [version(1, 50, [replica(1)]), version(2, 50, [replica(2)])])]);

/**
 * The control plane's /internal/v1/routing, answered through a stubbed fetch (a Worker cannot listen):
 * `current` is what it holds; `down` makes every call fail to connect. Records the `since` of each pull.
 */
function stubControlPlane(state: { current: RoutingSnapshot; down?: boolean }) {
  const pulls: (string | null)[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    expect(url.origin + url.pathname).toBe('http://control-plane.test/internal/v1/routing');
    expect(request.headers.get('authorization')).toBe('Bearer edge-token');
    pulls.push(url.searchParams.get('since'));
    if (state.down) throw new TypeError('Network connection lost.');
    const since = url.searchParams.get('since');
    return since === String(state.current.version)
      ? json({ unchanged: true, version: state.current.version })
      : json(state.current);
  });
  return pulls;
}

function clock(start = 1_000_000) {
  const c = { ms: start, now: () => c.ms };
  return c;
}

beforeEach(async () => {
  await kv.delete(ROUTING_KV_KEY);
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('RoutingTable', () => {
  it('pulls on first use and serves the held snapshot until the refresh interval has passed', async () => {
    const pulls = stubControlPlane({ current: v1 });
    const time = clock();
    const table = new RoutingTable(undefined, time.now);

    expect(await table.snapshot(routingEnv)).toEqual(v1);
    time.ms += 1_999;
    await table.snapshot(routingEnv);

    expect(pulls).toEqual([null]);
  });

  it('asks since the held version and keeps the held snapshot when unchanged', async () => {
    const pulls = stubControlPlane({ current: v1 });
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    const first = await table.snapshot(routingEnv);

    time.ms += 2_000;
    expect(await table.snapshot(routingEnv)).toBe(first);
    expect(pulls).toEqual([null, '1']);
  });

  it('takes a new version and writes it to KV', async () => {
    const state = { current: v1 };
    stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);

    state.current = v2;
    time.ms += 2_000;

    expect((await table.snapshot(routingEnv)).version).toBe(2);
    expect(await kv.get(ROUTING_KV_KEY, 'json')).toEqual(v2);
  });

  it('shares one pull among concurrent first requests', async () => {
    const pulls = stubControlPlane({ current: v1 });
    const table = new RoutingTable();

    const all = await Promise.all([1, 2, 3, 4, 5].map(() => table.snapshot(routingEnv)));

    expect(pulls).toHaveLength(1);
    for (const s of all) expect(s).toBe(all[0]);
  });

  it('answers a stale snapshot at once and refreshes it in the background', async () => {
    const state = { current: v1 };
    const pulls = stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);
    state.current = v2;
    time.ms += 5_000;

    const ctx = createExecutionContext();
    expect((await table.snapshot(routingEnv, ctx)).version).toBe(1);
    await waitOnExecutionContext(ctx);

    expect((await table.snapshot(routingEnv)).version).toBe(2);
    expect(pulls).toEqual([null, '1']);
  });

  it('serves the snapshot in KV when it has none and the control plane is down', async () => {
    await kv.put(ROUTING_KV_KEY, JSON.stringify(v2));
    stubControlPlane({ current: v1, down: true });

    expect(await new RoutingTable().snapshot(routingEnv)).toEqual(v2);
  });

  it('keeps serving what it holds while the control plane is down, asking once per interval', async () => {
    const state = { current: v1, down: false };
    const pulls = stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);
    state.down = true;

    time.ms += 2_000;
    expect(await table.snapshot(routingEnv)).toEqual(v1);
    time.ms += 1_000;
    expect(await table.snapshot(routingEnv)).toEqual(v1);

    expect(pulls).toEqual([null, '1']);
  });

  it('takes a newer snapshot another isolate left in KV while the control plane is down', async () => {
    const state = { current: v1, down: false };
    stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);
    state.down = true;
    await kv.put(ROUTING_KV_KEY, JSON.stringify(v2));

    time.ms += 2_000;
    expect((await table.snapshot(routingEnv)).version).toBe(2);
  });

  it('answers unavailable when the control plane is down and KV holds no snapshot', async () => {
    stubControlPlane({ current: v1, down: true });

    const failed = await new RoutingTable().snapshot(routingEnv).catch((e: unknown) => e);

    expect(failed).toBeInstanceOf(EdgeError);
    expect(failed).toMatchObject({ code: 'unavailable', headers: { 'Retry-After': '1' } });
  });

  it('pulls at once, within the refresh interval, until it holds the version a wake named', async () => {
    const state = { current: v1 };
    const pulls = stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);
    state.current = v2;

    expect((await table.fresh(routingEnv, 2)).version).toBe(2);
    expect((await table.fresh(routingEnv, 2)).version).toBe(2);
    expect(await table.snapshot(routingEnv)).toEqual(v2);
    expect(pulls).toEqual([null, '1']);
  });

  it('looks again after a miss once its snapshot is 250 ms old, well within the refresh interval', async () => {
    const state = { current: v1 };
    const pulls = stubControlPlane(state);
    const time = clock();
    const table = new RoutingTable(undefined, time.now);
    await table.snapshot(routingEnv);
    state.current = v2;

    time.ms += 100;
    expect((await table.afterMiss(routingEnv)).version).toBe(1);
    time.ms += 150;
    expect((await table.afterMiss(routingEnv)).version).toBe(2);
    expect(pulls).toEqual([null, '1']);
  });

  it('gives up waiting for a version the control plane does not have after a few pulls', async () => {
    const pulls = stubControlPlane({ current: v1 });
    const table = new RoutingTable();

    expect((await table.fresh(routingEnv, 9)).version).toBe(1);
    expect(pulls).toEqual([null, '1', '1']);
  });

  it('is one table per isolate', () => {
    expect(routingTable(routingEnv)).toBe(routingTable(routingEnv));
  });
});

describe('lookups', () => {
  const mine = deployment('fraud', [version(1, 100, [replica(1)])], {
    deploymentId: 'dep_1',
    orgId: 'org_a',
  });
  const theirs = deployment('fraud', [version(1, 100, [replica(2)])], {
    deploymentId: 'dep_2',
    orgId: 'org_b',
  });
  const table = snapshot(3, [mine, theirs]);

  it('finds a deployment by name within the caller org only', () => {
    expect(findByName(table, 'org_a', 'fraud')).toBe(mine);
    expect(findByName(table, 'org_b', 'fraud')).toBe(theirs);
    expect(findByName(table, 'org_c', 'fraud')).toBeUndefined();
    expect(findByName(table, 'org_a', 'churn')).toBeUndefined();
  });

  it('never finds another org deployment by id', () => {
    expect(findById(table, 'org_a', 'dep_1')).toBe(mine);
    expect(findById(table, 'org_a', 'dep_2')).toBeUndefined();
    expect(findById(table, 'org_b', 'dep_2')).toBe(theirs);
  });
});
