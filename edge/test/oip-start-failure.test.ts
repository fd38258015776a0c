import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { RoutedDeployment, WakeAnswer } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer } from './helpers/auth-app.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, json, replica, snapshot, version } from './helpers/routing-fixtures.js';

// A deployment whose last start failed (a replica that could not load its model, no host that fits): the
// control plane's routing says why (`startFailure`), and the edge answers its calls and readiness probes
// with that reason at once, in OIP's error shape, rather than holding them into a generic timeout.

const REASON = 'onnxruntime could not load the model: protobuf parsing failed';
const AGENT = 'http://agent-1.test:8001';
let world: OipWorld;
let orgId: string;
let key: string;

function routed(name: string, extra: Partial<RoutedDeployment> = {}, replicas = 0) {
  const serving = replicas > 0 ? [replica(1)] : [];
  return deployment(name, [version(1, 100, serving)], { orgId, deploymentId: `dep_${name}`, ...extra });
}

async function infer(name: string) {
  const ctx = createExecutionContext();
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
  return { res, settled: () => waitOnExecutionContext(ctx) };
}

const failedMessage = (name: string, seconds: number) =>
  `deployment '${name}' failed to start: ${REASON}; see \`meridian deployments get ${name}\`; retry in ${seconds} s`;

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

describe('a deployment whose last start failed', () => {
  it('answers a call at once with the reason and when the control plane tries again, and wakes nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const name = uniqueId('broken');
    const retryAt = Date.now() + 7_500;
    world.routing = snapshot(1, [routed(name, { startFailure: { reason: REASON, retryAt } })]);

    const { res, settled } = await infer(name);
    await settled();

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('8');
    const body = (await res.json()) as { error: unknown; code: unknown };
    expect(body.error).toBe(failedMessage(name, 8));
    expect(body.code).toBe('unavailable');
    expect(world.wakes).toEqual([]);
  });

  it('answers a readiness probe 503 with the reason, without a wake, and 200 once a start succeeded', async () => {
    const name = uniqueId('broken');
    world.routing = snapshot(1, [routed(name, { startFailure: { reason: REASON } })]);

    const probe = await world.get(`/v2/models/${name}/ready`, key);
    await probe.settled();

    expect(probe.res.status).toBe(503);
    expect(probe.res.headers.get('retry-after')).toBe('30');
    expect(((await probe.res.json()) as { error: string }).error).toBe(failedMessage(name, 30));
    expect(world.wakes).toEqual([]);

    // A later start succeeds: routing serves it and carries no failure.
    world.routing = snapshot(2, [routed(name, {}, 1)]);
    world.agents[AGENT] = () => json({ name: `dep_${name}`, ready: true });
    // The isolate serves its snapshot while it pulls the new one in the background.
    await (await world.get(`/v2/models/${name}/ready`, key)).settled();
    const ready = await world.get(`/v2/models/${name}/ready`, key);
    expect(ready.res.status, await ready.res.clone().text()).toBe(200);
  });

  it('refuses calls held at zero with the reason as soon as the wake says the start failed', async () => {
    const name = uniqueId('sleepy');
    world.routing = snapshot(1, [routed(name)]);
    const retryAt = Date.now() + 60_000;
    world.onWake = (): WakeAnswer => {
      world.routing = snapshot(2, [routed(name, { startFailure: { reason: REASON, retryAt } })]);
      return { state: 'failed', reason: REASON, routingVersion: 2 };
    };

    const started = Date.now();
    const [first, second] = await Promise.all([infer(name), infer(name)]);

    for (const { res } of [first, second]) {
      expect(res.status).toBe(503);
      const seconds = Number(res.headers.get('retry-after'));
      expect(seconds).toBeGreaterThanOrEqual(59);
      expect(seconds).toBeLessThanOrEqual(60);
      expect(((await res.json()) as { error: string }).error).toBe(failedMessage(name, seconds));
    }
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(world.wakes).toHaveLength(1);

    // Routing now shows the failure: the next call and probe are answered from it, with no wake.
    const again = await infer(name);
    expect(again.res.status).toBe(503);
    expect(((await again.res.json()) as { error: string }).error).toContain(`failed to start: ${REASON}`);
    const probe = await world.get(`/v2/models/${name}/ready`, key);
    expect(probe.res.status).toBe(503);
    expect(((await probe.res.json()) as { error: string }).error).toContain(`failed to start: ${REASON}`);
    expect(world.wakes).toHaveLength(1);
  });

  it("has a readiness probe's wake that fails make the next probe say why", async () => {
    const name = uniqueId('probed');
    world.routing = snapshot(1, [routed(name)]);
    world.onWake = (): WakeAnswer => {
      world.routing = snapshot(2, [routed(name, { startFailure: { reason: REASON } })]);
      return { state: 'failed', reason: REASON, routingVersion: 2 };
    };

    const first = await world.get(`/v2/models/${name}/ready`, key);
    expect(((await first.res.json()) as { error: string }).error).toMatch(/waking it/);
    await first.settled();

    const next = await world.get(`/v2/models/${name}/ready`, key);
    expect(next.res.status).toBe(503);
    expect(((await next.res.json()) as { error: string }).error).toBe(failedMessage(name, 30));
    expect(world.wakes).toHaveLength(1);
  });
});
