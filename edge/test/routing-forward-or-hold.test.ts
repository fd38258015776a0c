import { env } from 'cloudflare:workers';
import { REPLICA_DOWN_HEADER, type RoutedDeployment, type RoutingSnapshot } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../src/env.js';
import { NoReplicaAnswered } from '../src/routing/forward.js';
import { forwardOrHold } from '../src/routing/forward-or-hold.js';
import { ROUTING_KV_KEY } from '../src/routing/routing-table.js';
import {
  type AgentBehaviour,
  deployment,
  failure,
  json,
  replica,
  SIGNING_KEY,
  snapshot,
  stubAgents,
  version,
} from './helpers/routing-fixtures.js';

const CONTROL_PLANE = 'http://control-plane.test';
const kv = (env as unknown as Pick<Env, 'EDGE_KV'>).EDGE_KV;
const holdEnv = {
  DATA_PLANE_SIGNING_KEY: SIGNING_KEY,
  UPSTREAM_TIMEOUT_MS: '30000',
  CONTROL_PLANE_URL: CONTROL_PLANE,
  EDGE_SERVICE_TOKEN: 'edge-token',
  EDGE_KV: kv,
  ROUTING_REFRESH_SECONDS: '2',
};
const body = new TextEncoder().encode('{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}');

/** What an agent answers while its model server is gone: the agent's own 503 for a replica that is down. */
const down = () =>
  json({ error: "the model server of 'dep_ocr' cannot be reached" }, 503, {
    'retry-after': '1',
    [REPLICA_DOWN_HEADER]: '1',
  });
/** What an agent answers while its queue is full: busy, not down. */
const busy = () => json({ error: 'queue full' }, 503, { 'retry-after': '1' });

/**
 * Agents and the control plane's routing behind one stubbed fetch (a Worker cannot listen). Each agent
 * answers through its script, the calls it got counted by `calls`; routing is whatever `routing.current` is.
 */
function stubWorld(routing: { current: RoutingSnapshot }, agents: Record<string, AgentBehaviour>) {
  const pulls: number[] = [];
  const seen = stubAgents({
    ...agents,
    [CONTROL_PLANE]: () => {
      pulls.push(Date.now());
      return json(routing.current);
    },
  });
  const calls = (n: number) => seen.filter((r) => r.url.startsWith(`http://agent-${n}.test`)).length;
  return { calls, pulls };
}

/** A script answering `first` to the first `times` calls, then 200. */
function recovering(times: number, first: () => Response): AgentBehaviour {
  let left = times;
  return () => (left-- > 0 ? first() : json({ model_name: 'ocr', outputs: [] }));
}

const ocr = (replicas: number[], hold?: RoutedDeployment['hold']): RoutedDeployment =>
  deployment(
    'ocr',
    [
      version(
        1,
        100,
        replicas.map((n) => replica(n)),
      ),
    ],
    hold ? { hold } : {},
  );

function call(routed: RoutedDeployment) {
  return forwardOrHold(holdEnv, {
    deployment: routed,
    version: routed.versions[0] as RoutedDeployment['versions'][number],
    method: 'POST',
    path: '/infer',
    body,
    contentType: 'application/json',
  });
}

let routingVersion = 100;
/** A snapshot newer than any earlier test's: the isolate's routing table outlives each test. */
const routingOf = (...deployments: RoutedDeployment[]) => snapshot(++routingVersion, deployments);

beforeEach(async () => {
  await kv.delete(ROUTING_KV_KEY);
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('forwardOrHold with replicas that are down while routing still names them', () => {
  it('holds the call while its only replica says it is down, and answers once it serves again', async () => {
    const routed = ocr([1]);
    const world = stubWorld(
      { current: routingOf(routed) },
      { 'http://agent-1.test:8001': recovering(3, down) },
    );

    const { response, replica: used } = await call(routed);

    expect(response.status).toBe(200);
    expect(used.workloadId).toBe('wl_1');
    expect(world.calls(1)).toBe(4);
  });

  it('waits out an agent that refuses connections (a restart) the same way', async () => {
    const routed = ocr([1]);
    let refusals = 2;
    const world = stubWorld(
      { current: routingOf(routed) },
      {
        'http://agent-1.test:8001': () => {
          if (refusals-- > 0) throw new TypeError('Network connection lost.');
          return json({ outputs: [] });
        },
      },
    );

    expect((await call(routed)).response.status).toBe(200);
    expect(world.calls(1)).toBe(3);
  });

  it('goes to the replacement as soon as routing names it instead of the down replica', async () => {
    const routed = ocr([1]);
    const routing = { current: routingOf(routed) };
    let downCalls = 0;
    const world = stubWorld(routing, {
      'http://agent-1.test:8001': () => {
        // The control plane learns of the crash after the second call and publishes the replacement.
        if (++downCalls === 2) routing.current = routingOf(ocr([2]));
        return down();
      },
      'http://agent-2.test:8001': json({ outputs: [] }),
    });

    const { replica: used } = await call(routed);

    expect(used.workloadId).toBe('wl_2');
    // Routing is looked at after every try but pulled at most every 250 ms: the third try may still go to
    // the down replica, a fourth never does.
    expect(world.calls(1)).toBeGreaterThanOrEqual(2);
    expect(world.calls(1)).toBeLessThanOrEqual(3);
    expect(world.calls(2)).toBe(1);
  });

  it("answers a busy replica's 503 at once: load is not waited out", async () => {
    const routed = ocr([1]);
    const world = stubWorld({ current: routingOf(routed) }, { 'http://agent-1.test:8001': busy });

    const err = await failure(call(routed));

    expect(err).toBeInstanceOf(NoReplicaAnswered);
    expect(err.code).toBe('unavailable');
    expect(err.headers['Retry-After']).toBe('1');
    expect(world.calls(1)).toBe(1);
  });

  it('answers at once when one replica is down and the other busy', async () => {
    const routed = ocr([1, 2]);
    const world = stubWorld(
      { current: routingOf(routed) },
      { 'http://agent-1.test:8001': down, 'http://agent-2.test:8001': busy },
    );

    await failure(call(routed));

    expect(world.calls(1) + world.calls(2)).toBe(2);
  });

  it("gives up after the deployment's hold wait with the replica's 503, routing pulled at most every 250 ms", async () => {
    const routed = ocr([1], { maxWaitMs: 1_000 });
    const world = stubWorld({ current: routingOf(routed) }, { 'http://agent-1.test:8001': down });
    const started = Date.now();

    const err = await failure(call(routed));

    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(NoReplicaAnswered);
    expect(err.message).toMatch(/^no replica of ocr answered \(answered 503\); retry in 1 s$/);
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(3_000);
    // Pauses of 100, 200, 400, then the rest of the second: five tries in all.
    expect(world.calls(1)).toBe(5);
    const gaps = world.pulls.slice(1).map((t, i) => t - (world.pulls[i] as number));
    expect(gaps.every((gap) => gap >= 240)).toBe(true);
  });

  it('does not wait at all for a deployment that holds no calls (hold wait 0)', async () => {
    const routed = ocr([1], { maxWaitMs: 0 });
    const world = stubWorld({ current: routingOf(routed) }, { 'http://agent-1.test:8001': down });

    await failure(call(routed));

    expect(world.calls(1)).toBe(1);
  });
});
