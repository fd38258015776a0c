import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { echoed } from '../src/errors.js';
import { bearer } from './helpers/auth-app.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, json, replica, snapshot, version } from './helpers/routing-fixtures.js';

// An error that quotes what the caller sent (a model name, a pinned version, an input name, a path) quotes
// at most its first 64 characters, then "…", with control characters escaped: a 4 KB name once came back
// whole in the 404, and a newline or an ANSI escape in it came back raw.

const LONG = 'n'.repeat(4096);
const CUT = `${'n'.repeat(64)}…`;

let world: OipWorld;
let key: string;
let name: string;

beforeEach(async () => {
  world = new OipWorld().install();
  const orgId = uniqueId('org');
  key = await world.cp.addKey({ orgId });
  name = uniqueId('fraud');
  world.routing = snapshot(1, [deployment(name, [version(1, 100, [replica(1)])], { orgId })]);
  // The replica describes its one input, x, and would answer any inference (none must reach it).
  world.agents['http://agent-1.test:8001'] = () =>
    json({ name: 'x', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }], outputs: [] });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The status and message of an answer: OIP's `{"error": "…"}` on /v2, the edge's envelope elsewhere. */
async function post(path: string, body: string): Promise<{ status: number; message: string }> {
  const ctx = createExecutionContext();
  const init = { method: 'POST', body, headers: { ...bearer(key), 'content-type': 'application/json' } };
  const res = await world.app.request(path, init, world.env, ctx);
  const answer = (await res.json()) as { error: string | { message: string } };
  await waitOnExecutionContext(ctx);
  const message = typeof answer.error === 'string' ? answer.error : answer.error.message;
  return { status: res.status, message };
}

const V2_BODY = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] });

describe('what an error echoes of a caller’s text', () => {
  it('cuts a 4 KB model name to its first 64 characters in the 404 of /v2 infer and of /v1 predict', async () => {
    expect(await post(`/v2/models/${LONG}/infer`, V2_BODY)).toEqual({
      status: 404,
      message: `model '${CUT}' not found: no deployment has that name`,
    });
    expect(await post(`/v1/deployments/${LONG}/predict`, '{"inputs":{"x":[[1]]}}')).toEqual({
      status: 404,
      message: `deployment '${CUT}' not found: no deployment has that name or id`,
    });
  });

  it('escapes control characters in a name rather than echoing them raw', async () => {
    const evil = encodeURIComponent('ab\ncd\u001b[31m\u202eef');
    expect(await post(`/v2/models/${evil}/infer`, V2_BODY)).toEqual({
      status: 404,
      message: "model 'ab\\u000acd\\u001b[31m\\u202eef' not found: no deployment has that name",
    });
  });

  it('cuts a long pinned version in its 404, and a long path in the 404 of no route', async () => {
    expect(await post(`/v2/models/${name}/versions/${LONG}/infer`, V2_BODY)).toEqual({
      status: 404,
      message: `version '${CUT}' of model '${name}' is not being served`,
    });
    const noRoute = await post(`/v2/${LONG}`, '{}');
    expect(noRoute).toEqual({ status: 404, message: `No route for POST /v2/${'n'.repeat(60)}…` });
    expect(world.agentCalls).toEqual([]);
  });

  it('cuts a long input name of a simple-JSON call in its 400', async () => {
    const res = await post(`/v1/deployments/${name}/predict`, JSON.stringify({ inputs: { [LONG]: [[1]] } }));
    expect(res).toEqual({ status: 400, message: `unknown input '${CUT}'; the model takes x` });
  });

  it('leaves a short name as it is, and never splits a character made of two code units', () => {
    expect(echoed('fraud-api')).toBe('fraud-api');
    expect(echoed('n'.repeat(64))).toBe('n'.repeat(64));
    expect(echoed('😀'.repeat(100))).toBe(`${'😀'.repeat(64)}…`);
    expect(echoed('a\u0000b\u007fc\u0085d')).toBe('a\\u0000b\\u007fc\\u0085d');
  });
});
