import type { WakeAnswer } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PROBE_WAKE_INTERVAL_MS } from '../src/routing/wake.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, json, replica, snapshot, version } from './helpers/routing-fixtures.js';

// `GET /v2/models/{name}[/versions/{v}]/ready` on a deployment scaled to zero: Triton's and KServe's clients
// wait with `while not is_model_ready(m): sleep(…)`, so the probe must wake it (as Knative does) or that loop
// never ends. It answers 503 at once, and a loop of probes sends one wake, not one per probe.

const AGENT = 'http://agent-1.test:8001';
let world: OipWorld;
let orgId: string;
let key: string;

/** A deployment of one version with no replica (min 0, scaled to zero), in this test's org. */
function atZero(name: string) {
  return deployment(name, [version(1, 100, [])], { orgId, deploymentId: `dep_${name}` });
}

beforeEach(async () => {
  world = new OipWorld().install();
  orgId = uniqueId('org');
  key = await world.cp.addKey({ orgId });
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('readiness probe at zero', () => {
  it('wakes the deployment in the background, answers 503 at once, and 200 once a replica is ready', async () => {
    const name = uniqueId('sleepy');
    world.routing = snapshot(1, [atZero(name)]);
    let release: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      release = resolve;
    });
    world.onWake = async (): Promise<WakeAnswer> => {
      await woken;
      world.routing = snapshot(2, [
        deployment(name, [version(1, 100, [replica(1)])], { orgId, deploymentId: `dep_${name}` }),
      ]);
      return { state: 'ready', routingVersion: 2 };
    };
    world.agents[AGENT] = () => json({ name: `dep_${name}`, ready: true });

    // The wake has not answered: a probe that waited for it would never come back.
    const first = await world.get(`/v2/models/${name}/ready`, key);
    expect(first.res.status).toBe(503);
    expect(first.res.headers.get('retry-after')).toBe('5');
    const body = (await first.res.json()) as { error: string };
    expect(body.error).toBe(
      `model '${name}' has no ready replica (scaled to zero, or starting): waking it; retry shortly`,
    );
    expect(world.wakes).toEqual([{ deploymentId: `dep_${name}`, held: 0, waitMs: PROBE_WAKE_INTERVAL_MS }]);

    // A probe loop while the wake is in flight: every probe answered at once, no second wake.
    for (let i = 0; i < 5; i++) {
      const again = await world.get(`/v2/models/${name}/ready`, key);
      expect(again.res.status).toBe(503);
      await again.settled();
    }
    expect(world.wakes).toHaveLength(1);

    release();
    await first.settled();
    const ready = await world.get(`/v2/models/${name}/ready`, key);
    expect(ready.res.status).toBe(200);
    expect(await ready.res.json()).toEqual({ name, ready: true });
    expect(world.agentCalls).toEqual([`${AGENT}/v2/models/dep_${name}/versions/ver_1/ready`]);
    expect(world.wakes).toHaveLength(1);
  });

  it('sends at most one wake per interval while the replica is still starting', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const name = uniqueId('cold');
    world.routing = snapshot(1, [atZero(name)]);
    world.onWake = () => ({ state: 'starting' });

    const probe = async () => {
      const { res, settled } = await world.get(`/v2/models/${name}/ready`, key);
      await settled();
      return res.status;
    };
    expect([await probe(), await probe(), await probe()]).toEqual([503, 503, 503]);
    expect(world.wakes).toHaveLength(1);

    vi.setSystemTime(Date.now() + PROBE_WAKE_INTERVAL_MS - 1);
    expect(await probe()).toBe(503);
    expect(world.wakes).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1);
    expect(await probe()).toBe(503);
    expect(world.wakes).toHaveLength(2);
  });

  it('wakes a deployment that went to zero while the isolate was idle, though its snapshot still names the replica', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const name = uniqueId('dozed');
    const serving = deployment(name, [version(1, 100, [replica(1)])], { orgId, deploymentId: `dep_${name}` });
    world.routing = snapshot(1, [serving]);
    world.agents[AGENT] = () => json({ name: `dep_${name}`, ready: true });
    const ready = await world.get(`/v2/models/${name}/ready`, key);
    expect(ready.res.status).toBe(200);
    await ready.settled();

    // Scaled to zero meanwhile: the replica is gone from its agent (404) and from routing.
    world.routing = snapshot(2, [atZero(name)]);
    world.agents[AGENT] = () => json({ error: 'not found' }, 404);
    vi.setSystemTime(Date.now() + 60_000);
    const probe = await world.get(`/v2/models/${name}/ready`, key);
    expect(probe.res.status).toBe(503);
    expect(probe.res.headers.get('retry-after')).toBe('5');
    expect(((await probe.res.json()) as { error: string }).error).toBe(
      `model '${name}' has no ready replica (scaled to zero, or starting): waking it; retry shortly`,
    );
    await probe.settled();
    expect(world.wakes.map((w) => w.deploymentId)).toEqual([`dep_${name}`]);
  });

  it('wakes for a version pinned by number or id, and answers 404 for a version it does not have', async () => {
    const name = uniqueId('pinned');
    world.routing = snapshot(1, [atZero(name)]);

    const unknown = await world.get(`/v2/models/${name}/versions/7/ready`, key);
    expect(unknown.res.status).toBe(404);
    await unknown.settled();
    expect(world.wakes).toHaveLength(0);

    const byId = await world.get(`/v2/models/${name}/versions/ver_1/ready`, key);
    expect(byId.res.status).toBe(503);
    expect(((await byId.res.json()) as { error: string }).error).toMatch(/scaled to zero.*waking it/);
    await byId.settled();
    expect(world.wakes.map((w) => w.deploymentId)).toEqual([`dep_${name}`]);
  });
});
