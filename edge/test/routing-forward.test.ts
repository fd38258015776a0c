import {
  CALLER_MODEL_HEADERS,
  CALLER_NAMED_HEADER,
  INFERENCE_HEADER_CONTENT_LENGTH,
  SIGNATURE_HEADERS,
} from '@meridian/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ForwardDeps, forwardToReplica } from '../src/routing/forward.js';
import { OutstandingRequests } from '../src/routing/outstanding.js';
import { ReplicaHealth } from '../src/routing/replica-health.js';
import { RetryBudget } from '../src/routing/retry-budget.js';
import {
  deployment,
  failure,
  json,
  replica,
  SIGNING_KEY,
  stubAgents,
  version,
} from './helpers/routing-fixtures.js';

const forwardEnv = { DATA_PLANE_SIGNING_KEY: SIGNING_KEY, UPSTREAM_TIMEOUT_MS: '30000' };
const body = new TextEncoder().encode('{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}');
const a = replica(1);
const b = replica(2);
const c = replica(3);
const v = version(4, 100, [a, b, c]);
const fraud = deployment('fraud', [v], { deploymentId: 'dep_fraud' });

// Fresh isolate state per test, and replicas drawn in the listed order (a, then b, then c).
function deps(budget = new RetryBudget()): ForwardDeps {
  return { outstanding: new OutstandingRequests(), budget, health: new ReplicaHealth(), random: () => 0 };
}

function infer(overrides: Partial<Parameters<typeof forwardToReplica>[1]> = {}) {
  return {
    deployment: fraud,
    version: v,
    method: 'POST',
    path: '/infer',
    body,
    contentType: 'application/json',
    ...overrides,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('forwardToReplica', () => {
  it('sends a signed request for the deployment id and version id, which the agent verifies', async () => {
    const seen = stubAgents({ [new URL(a.url).origin]: json({ outputs: [] }) });

    const { response, replica: used, attempts } = await forwardToReplica(forwardEnv, infer(), deps());

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outputs: [] });
    expect(used).toBe(a);
    expect(attempts).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('http://agent-1.test:8001/v2/models/dep_fraud/versions/ver_4/infer');
    expect(seen[0]?.headers.get(SIGNATURE_HEADERS.deployment)).toBe('dep_fraud');
    expect(seen[0]?.headers.get('content-type')).toBe('application/json');
    expect(seen[0]?.body).toEqual(body);
    expect(seen[0]?.signatureValid).toBe(true);
  });

  it('signs a GET without a body, and one the agent would refuse under another key does not verify', async () => {
    const seen = stubAgents({ [new URL(a.url).origin]: json({ ready: true }) });

    await forwardToReplica(forwardEnv, infer({ method: 'GET', path: '/ready', body }), deps());
    await forwardToReplica(
      { ...forwardEnv, DATA_PLANE_SIGNING_KEY: 'another-key' },
      infer({ path: '' }),
      deps(),
    );

    expect(seen[0]?.url).toMatch(/\/v2\/models\/dep_fraud\/versions\/ver_4\/ready$/);
    expect(seen[0]?.body.byteLength).toBe(0);
    expect(seen[0]?.signatureValid).toBe(true);
    expect(seen[1]?.signatureValid).toBe(false);
  });

  it("signs with each replica's own agent key, a fresh nonce per attempt, and the caller's usage identity", async () => {
    const seen = stubAgents({
      [new URL(a.url).origin]: 'refuse',
      [new URL(b.url).origin]: json({ outputs: [] }),
    });
    const usage = { orgId: 'org_a', keyId: 'key_1', userId: null };

    await forwardToReplica(forwardEnv, infer({ usage }), deps());

    expect(seen.map((r) => r.signatureValid)).toEqual([true, true]);
    const nonces = seen.map((r) => r.headers.get(SIGNATURE_HEADERS.nonce));
    expect(new Set(nonces).size).toBe(2);
    expect(seen[1]?.headers.get('x-meridian-org')).toBe('org_a');
    expect(seen[1]?.headers.get('x-meridian-key')).toBe('key_1');
    expect(seen[1]?.headers.get('x-meridian-user')).toBeNull();
    // Signed for agt_2 (replica b): agent 1's key, or any changed identity, does not verify it.
    const rerouted = { ...b, agentId: 'agt_1' };
    const other = stubAgents({ [new URL(b.url).origin]: json({}) });
    await forwardToReplica(forwardEnv, infer({ usage, version: version(4, 100, [rerouted]) }), deps());
    expect(other.at(-1)?.signatureValid).toBe(false);
  });

  it("signs the caller's Idempotency-Key with the usage identity, the same on every attempt", async () => {
    const seen = stubAgents({
      [new URL(a.url).origin]: 'refuse',
      [new URL(b.url).origin]: json({ outputs: [] }),
    });
    const usage = { orgId: 'org_a', keyId: 'key_1', userId: null, idempotencyKey: 'call-42' };

    await forwardToReplica(forwardEnv, infer({ usage }), deps());

    expect(seen.map((r) => r.signatureValid)).toEqual([true, true]);
    expect(seen.map((r) => r.headers.get('x-meridian-idempotency-key'))).toEqual(['call-42', 'call-42']);
  });

  it('signs with the generation the routing snapshot names for the replica', async () => {
    const seen = stubAgents({ [new URL(a.url).origin]: json({}) });
    await forwardToReplica(
      forwardEnv,
      infer({ version: version(4, 100, [{ ...a, keyGeneration: 3 }]) }),
      deps(),
    );
    expect(seen[0]?.headers.get(SIGNATURE_HEADERS.keyGeneration)).toBe('3');
    expect(seen[0]?.signatureValid).toBe(true);
  });

  it('passes binary bodies and Inference-Header-Content-Length through untouched, both ways', async () => {
    const bytes = Uint8Array.from([123, 125, 0, 0, 128, 63, 255]);
    const seen = stubAgents({
      [new URL(a.url).origin]: new Response(Uint8Array.from([1, 2, 3, 4]), {
        headers: {
          'content-type': 'application/octet-stream',
          [INFERENCE_HEADER_CONTENT_LENGTH]: '2',
          server: 'agent',
        },
      }),
    });

    const { response } = await forwardToReplica(
      forwardEnv,
      infer({
        body: bytes,
        contentType: 'application/octet-stream',
        headers: { [INFERENCE_HEADER_CONTENT_LENGTH]: '2' },
      }),
      deps(),
    );

    expect(seen[0]?.body).toEqual(bytes);
    expect(seen[0]?.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)).toBe('2');
    expect(seen[0]?.signatureValid).toBe(true);
    expect(response.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)).toBe('2');
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('server')).toBeNull();
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(Uint8Array.from([1, 2, 3, 4]));
  });

  it('never lets a header from the route stand in for the signature', async () => {
    const seen = stubAgents({ [new URL(a.url).origin]: json({}) });

    await forwardToReplica(
      forwardEnv,
      infer({ headers: { 'X-Meridian-Signature': 'f'.repeat(64) } }),
      deps(),
    );

    expect(seen[0]?.signatureValid).toBe(true);
  });

  it('sets a replica whose connection failed aside, so the next requests spend no retry on it', async () => {
    stubAgents({ [new URL(a.url).origin]: 'refuse', [new URL(b.url).origin]: json({ outputs: [] }) });
    let now = 0;
    const shared = { ...deps(), health: new ReplicaHealth(10_000, () => now) };

    expect((await forwardToReplica(forwardEnv, infer(), shared)).attempts).toBe(2);
    const next = await forwardToReplica(forwardEnv, infer(), shared);
    expect([next.replica, next.attempts]).toEqual([b, 1]);
    // Once the 10 s are over it is tried again (first, as the draw prefers it), and fails over once more.
    now = 10_001;
    expect((await forwardToReplica(forwardEnv, infer(), shared)).attempts).toBe(2);
  });

  it('still tries a set-aside replica when no other is left', async () => {
    const lone = deployment('lone', [version(1, 100, [a])], { deploymentId: 'dep_lone' });
    const shared = deps();
    shared.health?.eject(a.workloadId);
    stubAgents({ [new URL(a.url).origin]: json({ outputs: [] }) });
    const res = await forwardToReplica(
      forwardEnv,
      { ...infer(), deployment: lone, version: version(1, 100, [a]) },
      shared,
    );
    expect(res.replica).toBe(a);
  });

  it('retries on another replica when the connection is refused', async () => {
    const seen = stubAgents({
      [new URL(a.url).origin]: 'refuse',
      [new URL(b.url).origin]: json({ outputs: [] }),
    });

    const { response, replica: used, attempts } = await forwardToReplica(forwardEnv, infer(), deps());

    expect(response.status).toBe(200);
    expect(used).toBe(b);
    expect(attempts).toBe(2);
    expect(seen.every((r) => r.signatureValid)).toBe(true);
  });

  it('retries on another replica when the agent answers 503', async () => {
    stubAgents({
      [new URL(a.url).origin]: json({ error: 'model not ready' }, 503),
      [new URL(b.url).origin]: json({ outputs: [] }),
    });

    const { replica: used, attempts } = await forwardToReplica(forwardEnv, infer(), deps());

    expect(used).toBe(b);
    expect(attempts).toBe(2);
  });

  it('retries on another replica when the agent no longer has the model (404: routing was stale)', async () => {
    stubAgents({
      [new URL(a.url).origin]: json({ error: "model 'dep_fraud' not found" }, 404),
      [new URL(b.url).origin]: json({ outputs: [] }),
    });

    const { response, replica: used, attempts } = await forwardToReplica(forwardEnv, infer(), deps());

    expect(response.status).toBe(200);
    expect(used).toBe(b);
    expect(attempts).toBe(2);
  });

  it("says whether the agent named the model as the caller did, and adds the route's answer headers", async () => {
    const names = { [CALLER_MODEL_HEADERS.name]: 'fraud', [CALLER_MODEL_HEADERS.version]: '4' };
    const seen = stubAgents({
      [new URL(a.url).origin]: json({ model_name: 'fraud', outputs: [] }, 200, {
        [CALLER_NAMED_HEADER]: '1',
      }),
      [new URL(b.url).origin]: json({ model_name: 'dep_fraud', outputs: [] }),
    });
    const answerHeaders = { RateLimit: '"bench";r=9;t=60' };

    const onA = version(4, 100, [a]);
    const onB = version(4, 100, [b]);

    const named = await forwardToReplica(
      forwardEnv,
      infer({ version: onA, headers: names, answerHeaders }),
      deps(),
    );
    const unnamed = await forwardToReplica(forwardEnv, infer({ version: onB, headers: names }), deps());

    expect(seen[0]?.headers.get(CALLER_MODEL_HEADERS.name)).toBe('fraud');
    expect(seen[0]?.headers.get(CALLER_MODEL_HEADERS.version)).toBe('4');
    expect(named.named).toBe(true);
    expect(named.response.headers.get('ratelimit')).toBe('"bench";r=9;t=60');
    // The agent's word to the edge stays behind.
    expect(named.response.headers.get(CALLER_NAMED_HEADER)).toBeNull();
    expect(await named.response.json()).toEqual({ model_name: 'fraud', outputs: [] });
    expect(unnamed.replica).toBe(b);
    expect(unnamed.named).toBe(false);
    expect(unnamed.response.headers.get('ratelimit')).toBeNull();
  });

  it('passes any other status through without a retry', async () => {
    const seen = stubAgents({
      [new URL(a.url).origin]: json({ error: 'bad shape' }, 400),
      [new URL(b.url).origin]: json({ outputs: [] }),
    });

    const { response, attempts } = await forwardToReplica(forwardEnv, infer(), deps());

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'bad shape' });
    expect(attempts).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it('gives up on a replica that does not answer within the timeout and tries another', async () => {
    stubAgents({ [new URL(a.url).origin]: 'hang', [new URL(b.url).origin]: json({ outputs: [] }) });

    const { replica: used } = await forwardToReplica(forwardEnv, infer({ timeoutMs: 30 }), deps());

    expect(used).toBe(b);
  });

  it('answers unavailable with Retry-After after at most two retries, naming the deployment', async () => {
    const d = replica(4);
    const seen = stubAgents({});
    const four = version(4, 100, [a, b, c, d]);

    const err = await failure(forwardToReplica(forwardEnv, infer({ version: four }), deps()));

    expect(err.code).toBe('unavailable');
    expect(err.message).toBe(
      'no replica of fraud answered (connection failed; connection failed; connection failed); retry in 1 s',
    );
    // Workload ids and network errors stay in the edge's log, out of the tenant's answer.
    expect(err.message).not.toMatch(/wl_|refused|lost/);
    expect(err.headers).toEqual({ 'Retry-After': '1' });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((r) => new URL(r.url).origin)).size).toBe(3);
  });

  it("keeps the agents' Retry-After when every replica answered 503", async () => {
    const busy = json({ error: 'queue full' }, 503, { 'retry-after': '5' });
    stubAgents({
      [new URL(a.url).origin]: busy,
      [new URL(b.url).origin]: busy,
      [new URL(c.url).origin]: busy,
    });

    const err = await failure(forwardToReplica(forwardEnv, infer(), deps()));

    expect(err.headers).toEqual({ 'Retry-After': '5' });
    expect(err.message).toMatch(/answered 503/);
  });

  it('answers unavailable when every replica times out', async () => {
    stubAgents({
      [new URL(a.url).origin]: 'hang',
      [new URL(b.url).origin]: 'hang',
      [new URL(c.url).origin]: 'hang',
    });

    const err = await failure(forwardToReplica(forwardEnv, infer({ timeoutMs: 20 }), deps()));

    expect(err.message).toMatch(/no answer within 20 ms/);
  });

  it('stops retrying once the isolate retry budget is spent', async () => {
    const seen = stubAgents({
      [new URL(a.url).origin]: 'refuse',
      [new URL(b.url).origin]: json({ outputs: [] }),
    });
    // No minimum and 20% of requests: the fifth request earns the first retry.
    const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 0 });
    // Nothing set aside (0 ms), so every request meets the refusing replica first and needs a retry.
    const shared = { ...deps(budget), health: new ReplicaHealth(0) };

    for (let i = 0; i < 4; i++) {
      const err = await failure(forwardToReplica(forwardEnv, infer(), shared));
      expect(err.code).toBe('unavailable');
    }
    expect(seen).toHaveLength(4);

    const { replica: used } = await forwardToReplica(forwardEnv, infer(), shared);
    expect(used).toBe(b);
  });

  it('answers unavailable when the version has no ready replica', async () => {
    const err = await failure(forwardToReplica(forwardEnv, infer({ version: version(5, 100, []) }), deps()));

    expect(err.code).toBe('unavailable');
    expect(err.message).toBe('no ready replica of fraud');
  });

  it('counts a request as outstanding while it waits and not after', async () => {
    const outstanding = new OutstandingRequests();
    let during = -1;
    stubAgents({
      [new URL(a.url).origin]: () => {
        during = outstanding.count('wl_1');
        return json({});
      },
    });

    await forwardToReplica(forwardEnv, infer(), { ...deps(), outstanding });

    expect(during).toBe(1);
    expect(outstanding.count('wl_1')).toBe(0);
  });
});

describe('RetryBudget', () => {
  it('allows 20% of requests plus 10 a minute, and forgets requests older than a minute', () => {
    const time = { ms: 0 };
    const budget = new RetryBudget({ now: () => time.ms });
    for (let i = 0; i < 100; i++) budget.recordRequest();

    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(30);

    time.ms += 61_000;
    granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(10);
  });
});
