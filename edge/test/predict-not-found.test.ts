import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer } from './helpers/auth-app.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, replica, snapshot, version } from './helpers/routing-fixtures.js';

// A call to a deployment that is not the caller's: `/v1/deployments/{id or name}/predict` names a deployment,
// so its 404 says "deployment"; OIP's `/v2/models/{name}` keeps "model". Another org's deployment, by name
// or by id, answers exactly as one that does not exist.

let world: OipWorld;
let key: string;
/** A serving deployment in another org, and its id. */
let theirs: { name: string; id: string };

beforeEach(async () => {
  world = new OipWorld().install();
  const orgId = uniqueId('org');
  key = await world.cp.addKey({ orgId });
  const name = uniqueId('fraud');
  theirs = { name, id: `dep_${name}` };
  const otherOrg = uniqueId('org');
  world.routing = snapshot(1, [
    deployment(name, [version(1, 100, [replica(1)])], { orgId: otherOrg, deploymentId: theirs.id }),
  ]);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function post(path: string, body: string): Promise<{ status: number; body: unknown }> {
  const ctx = createExecutionContext();
  const init = { method: 'POST', body, headers: { ...bearer(key), 'content-type': 'application/json' } };
  const res = await world.app.request(path, init, world.env, ctx);
  const answer = { status: res.status, body: await res.json() };
  await waitOnExecutionContext(ctx);
  return answer;
}

describe('a deployment the caller does not have', () => {
  it('answers 404 "deployment \'…\' not found" on /v1/deployments/{name}/predict', async () => {
    const res = await post('/v1/deployments/no-such-thing/predict', '{"inputs":{"x":[[1]]}}');

    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        code: 'not_found',
        message: "deployment 'no-such-thing' not found: no deployment has that name or id",
        requestId: expect.any(String),
      },
    });
  });

  it("answers another org's deployment, by name or by id, as one that does not exist", async () => {
    const input = '{"inputs":{"x":[[1]]}}';
    const missing = await post('/v1/deployments/no-such-thing/predict', input);
    const byName = await post(`/v1/deployments/${theirs.name}/predict`, input);
    const byId = await post(`/v1/deployments/${theirs.id}/predict`, input);

    const notFound = (ref: string) => ({
      error: {
        code: 'not_found',
        message: `deployment '${ref}' not found: no deployment has that name or id`,
        requestId: expect.any(String),
      },
    });
    expect([missing.status, byName.status, byId.status]).toEqual([404, 404, 404]);
    expect(missing.body).toEqual(notFound('no-such-thing'));
    expect(byName.body).toEqual(notFound(theirs.name));
    expect(byId.body).toEqual(notFound(theirs.id));
    // Nothing reached their replica.
    expect(world.agentCalls).toEqual([]);
  });

  it('keeps OIP\'s word "model" on /v2/models/{name}/infer, the same for another org\'s', async () => {
    const input = '{"inputs":[]}';
    const missing = await post('/v2/models/no-such-thing/infer', input);
    const theirsByName = await post(`/v2/models/${theirs.name}/infer`, input);

    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: "model 'no-such-thing' not found: no deployment has that name",
      code: 'not_found',
      requestId: expect.any(String),
    });
    expect(theirsByName.status).toBe(404);
    expect((theirsByName.body as { error: string }).error).toBe(
      `model '${theirs.name}' not found: no deployment has that name`,
    );
    expect(world.agentCalls).toEqual([]);
  });
});
