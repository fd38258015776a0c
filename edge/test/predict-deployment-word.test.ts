import { createExecutionContext } from 'cloudflare:test';
import type { RoutedDeployment, RoutedVersion, RoutingSnapshot } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer } from './helpers/auth-app.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, replica, snapshot, version } from './helpers/routing-fixtures.js';

// The errors a caller of `/v1/deployments/{id or name}/predict` reads after its deployment is found name it
// as that route does, "deployment" (predict-not-found.test.ts has the 404 of one not found): a hold's 503s,
// the 404 of one deleted while its call was held, and the rarer 503s on the way. OIP's `/v2/models/{name}`
// keeps OIP's "model" for the same errors.

let world: OipWorld;
let key: string;
let orgId: string;
let name: string;

beforeEach(async () => {
  world = new OipWorld().install();
  orgId = uniqueId('org');
  key = await world.cp.addKey({ orgId });
  name = uniqueId('fraud');
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const V1_BODY = '{"inputs":{"x":[[1]]}}';
const V2_BODY = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] });

/** The message of an error answer: the edge's envelope on /v1, OIP's `{"error": "…"}` on /v2. */
async function call(route: 'v1' | 'v2'): Promise<{ status: number; message: string }> {
  const ctx = createExecutionContext();
  const path = route === 'v1' ? `/v1/deployments/${name}/predict` : `/v2/models/${name}/infer`;
  const init = {
    method: 'POST',
    body: route === 'v1' ? V1_BODY : V2_BODY,
    headers: { ...bearer(key), 'content-type': 'application/json' },
  };
  const res = await world.app.request(path, init, world.env, ctx);
  const body = (await res.json()) as { error: string | { message: string } };
  // Not waited for: the background work a held call leaves (its allowance's return, due once the lease
  // ends) outlasts the answer, which is what the caller reads.
  return { status: res.status, message: typeof body.error === 'string' ? body.error : body.error.message };
}

function routed(versions: RoutedVersion[], overrides: Partial<RoutedDeployment> = {}): RoutedDeployment {
  return deployment(name, versions, { orgId, deploymentId: `dep_${name}`, ...overrides });
}

/** At zero: the call is held for at most `hold`, and each wake answers that a replica is starting. */
function atZero(hold: RoutedDeployment['hold']) {
  world.routing = snapshot(1, [routed([version(1, 100, [])], { hold })]);
}

/**
 * Runs `send` at zero, where the wake answers that a replica is ready: routing shows it once (so the hold lets
 * the call go), then shows the deployment deleted.
 */
async function deletedWhileHeld<T>(send: () => Promise<T>): Promise<T> {
  const before = snapshot(1, [routed([version(1, 100, [])], { hold: { maxWaitMs: 5_000 } })]);
  let next: RoutingSnapshot[] = [];
  world.onWake = () => {
    next = [snapshot(2, [routed([version(1, 100, [replica(1)])])]), snapshot(3, [])];
    return { state: 'ready', routingVersion: 2 };
  };
  Object.defineProperty(world, 'routing', {
    configurable: true,
    get: () => (next.length > 1 ? next.shift() : (next[0] ?? before)),
  });
  return send();
}

describe("a /v1 predict call's errors name a deployment; OIP's name a model", () => {
  it('says so on /v1 when its hold runs out', async () => {
    atZero({ maxWaitMs: 200 });

    expect(await call('v1')).toEqual({
      status: 503,
      message: `deployment '${name}' has no ready replica after holding the call 0.2 s; retry in 5 s`,
    });
  });

  it('says model on /v2 when its hold runs out', async () => {
    atZero({ maxWaitMs: 200 });

    expect(await call('v2')).toEqual({
      status: 503,
      message: `model '${name}' has no ready replica after holding the call 0.2 s; retry in 5 s`,
    });
  });

  it('says so when the hold is full', async () => {
    atZero({ maxWaitMs: 100, maxCount: 0 });
    const full =
      "is starting and already holds 0 calls for it, the most it holds (the edge's HOLD_MAX_COUNT); retry shortly";

    expect(await call('v1')).toEqual({ status: 503, message: `deployment '${name}' ${full}` });
    expect(await call('v2')).toEqual({ status: 503, message: `model '${name}' ${full}` });
    expect(world.wakes).toEqual([]);
  });

  it('says so when the deployment was deleted while its call was held', async () => {
    const v1 = await deletedWhileHeld(() => call('v1'));
    const v2 = await deletedWhileHeld(() => call('v2'));

    expect(v1).toEqual({ status: 404, message: `deployment '${name}' not found: it was deleted` });
    expect(v2).toEqual({ status: 404, message: `model '${name}' not found: its deployment was deleted` });
  });

  it('says so when no version it routes to takes calls', async () => {
    world.routing = snapshot(1, [routed([version(1, 0, [replica(1)])])]);

    expect(await call('v1')).toEqual({
      status: 503,
      message: `deployment '${name}' has no ready replica yet`,
    });
    expect(await call('v2')).toEqual({ status: 503, message: `model '${name}' has no ready replica yet` });
  });

  it('says so when its replica does not describe its inputs (only /v1 predict asks)', async () => {
    const served = { ...version(1, 100, [replica(1)]), versionId: uniqueId('ver') };
    world.routing = snapshot(1, [routed([served])]);
    world.agents['http://agent-1.test:8001'] = () => new Response('broken', { status: 500 });

    expect(await call('v1')).toEqual({
      status: 503,
      message: `deployment '${name}' did not describe its inputs`,
    });
  });

  it('says so when routing was stale and the call is held after its replica went', async () => {
    const served = { ...version(1, 100, [replica(1)]), versionId: uniqueId('ver') };
    world.routing = snapshot(1, [routed([served], { hold: { maxWaitMs: 100 } })]);
    const metadata = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }] };
    world.agents['http://agent-1.test:8001'] = (request) => {
      if (request.method === 'GET') return Response.json(metadata);
      // Scaled to zero since the snapshot was read: routing now shows no replica, and the agent has none.
      atZero({ maxWaitMs: 200 });
      return new Response('not here', { status: 404 });
    };

    expect(await call('v1')).toEqual({
      status: 503,
      message: `deployment '${name}' has no ready replica after holding the call 0.2 s; retry in 5 s`,
    });
  });
});
