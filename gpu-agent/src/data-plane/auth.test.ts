import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeInferRequest } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../agent/logger.js';
import { UsageJournal } from '../agent/usage-journal.js';
import { createModelSession, type ModelSession } from '../onnx/session.js';
import { writeMlp } from '../onnx/testing/mlp.js';
import { DataPlaneKeys, PREVIOUS_KEY_GRACE_MS } from './keys.js';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { serveModel, staticRegistry } from './models.js';
import { NonceCache } from './nonces.js';
import { deriveAgentKey } from './signature.js';
import { edgeHeaders, listen } from './testing/server.js';

// A real data plane (Node listener, MLP in onnxruntime, usage journal on disk) with this agent's keys
// derived from a platform key, as the control plane hands them out.
const PLATFORM = 'platform-data-plane-key-0123456789abcdef';
const AGENT = 'agt_this';
const DEP = 'dep_auth';
const TARGET = `/v2/models/${DEP}/infer`;
const USAGE = { orgId: 'org_a', keyId: 'key_a', userId: null };
const keyOf = (agentId: string, generation: number) => deriveAgentKey(PLATFORM, agentId, generation);

let dir = '';
let session: ModelSession;
let journal: UsageJournal;
let server: { url: string; close: () => Promise<void> };
let clock = Date.now();
const keys = new DataPlaneKeys(() => clock);
const body = encodeInferRequest({}, [
  {
    tensor: { name: 'x', datatype: 'FP32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) },
    binary: false,
  },
]).body;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-'));
  session = await createModelSession(
    await writeMlp(join(dir, 'm.onnx'), { inputs: 4, hidden: 4, outputs: 2 }),
    {
      executionProviders: ['cpu'],
    },
  );
  const metrics = new InferenceMetrics();
  const batching = { maxBatchSize: 8, maxQueueDelayUs: 0, maxQueueSize: 64, timeoutMs: 10_000 };
  const models = staticRegistry([serveModel(session, { name: DEP, version: '1' }, batching, metrics)]);
  keys.update({ generation: 1, key: keyOf(AGENT, 1).toString('hex') });
  journal = await UsageJournal.open(join(dir, 'usage'), { log: silentLogger });
  server = await listen(
    createDataPlaneListener({ models, metrics, signingKey: (g) => keys.get(g), journal, log: silentLogger }),
  );
});
afterAll(async () => {
  await server.close();
  await journal.close();
  await session.release();
  await rm(dir, { recursive: true, force: true });
});

type Sign = Parameters<typeof edgeHeaders>[1];
const signed = (over: Partial<Sign> = {}, key = keyOf(AGENT, 1)) =>
  edgeHeaders(key, {
    method: 'POST',
    target: TARGET,
    body,
    deploymentId: DEP,
    headers: { 'content-type': 'application/json' },
    usage: USAGE,
    ...over,
  });
const post = async (headers: Record<string, string>) => {
  const res = await fetch(server.url + TARGET, { method: 'POST', headers, body });
  return {
    status: res.status,
    error: res.status === 200 ? undefined : ((await res.json()) as { error: string }).error,
  };
};

describe('the data-plane signature', () => {
  it('answers a signed call once, and refuses the same signed request replayed with 401', async () => {
    const headers = signed();
    expect(await post(headers)).toEqual({ status: 200, error: undefined });
    expect(await post(headers)).toEqual({ status: 401, error: 'replayed request' });
    // Concurrent copies of one fresh request: exactly one is served.
    const copies = signed();
    const statuses = (await Promise.all(Array.from({ length: 5 }, () => post(copies)))).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 401, 401, 401, 401]);
  });

  it("refuses a request signed with another agent's key, or with the platform key itself", async () => {
    expect((await post(signed({}, keyOf('agt_other', 1)))).status).toBe(401);
    expect(await post(signed({}, Buffer.from(PLATFORM)))).toEqual({
      status: 401,
      error: 'bad edge signature',
    });
    expect(await post(signed({ keyGeneration: 2 }))).toEqual({
      status: 401,
      error: 'unknown data-plane key generation',
    });
  });

  it('refuses a request whose content-type or inference header length changed after signing', async () => {
    const ct = { ...signed(), 'content-type': 'application/octet-stream' };
    expect(await post(ct)).toEqual({ status: 401, error: 'bad edge signature' });
    const ihcl = { ...signed(), 'inference-header-content-length': '10' };
    expect(await post(ihcl)).toEqual({ status: 401, error: 'bad edge signature' });
    const added = signed({
      headers: { 'content-type': 'application/json', 'inference-header-content-length': '10' },
    });
    expect((await post({ ...added, 'inference-header-content-length': '11' })).status).toBe(401);
  });

  it('refuses a changed usage identity, and an infer call that names no org', async () => {
    expect((await post({ ...signed(), 'x-meridian-org': 'org_b' })).status).toBe(401);
    expect((await post({ ...signed(), 'x-meridian-key': 'key_b' })).status).toBe(401);
    expect(await post(signed({ usage: undefined }))).toEqual({
      status: 401,
      error: 'a signed infer call must name the org it is billed to',
    });
  });

  it("signs the caller's Idempotency-Key: changed, added or stripped after signing, the call is refused", async () => {
    const keyed = signed({ usage: { ...USAGE, idempotencyKey: 'call-7' } });
    expect((await post({ ...keyed, 'x-meridian-idempotency-key': 'call-8' })).status).toBe(401);
    expect((await post({ ...signed(), 'x-meridian-idempotency-key': 'call-7' })).status).toBe(401);
    const { 'x-meridian-idempotency-key': _, ...stripped } = keyed;
    expect((await post(stripped)).status).toBe(401);
    expect((await post(keyed)).status).toBe(200);
  });

  it('takes a rotated key at once and the one it replaced only for the grace period', async () => {
    keys.update({ generation: 2, key: keyOf(AGENT, 2).toString('hex') });
    expect((await post(signed({ keyGeneration: 2 }, keyOf(AGENT, 2)))).status).toBe(200);
    expect((await post(signed({ keyGeneration: 1 }))).status).toBe(200);
    // The keys' clock only: the signature's timestamp stays fresh to the data plane's.
    clock += PREVIOUS_KEY_GRACE_MS + 1;
    expect((await post(signed({ keyGeneration: 1 }))).status).toBe(401);
    clock = Date.now();
    expect((await post(signed({ keyGeneration: 2 }, keyOf(AGENT, 2)))).status).toBe(200);
  });

  it('journals every 200 under the signed identity before answering it', async () => {
    await journal.seal();
    const before = (await journal.unacknowledged()).flatMap((r) => r.records);
    const served = before.reduce((n, r) => n + r.calls, 0);
    // Every 200 of the tests above, and nothing refused; the keyed call is a record of its own.
    expect(served).toBe(6);
    expect(before.filter((r) => r.idempotencyKey === 'call-7').map((r) => r.calls)).toEqual([1]);
    expect(new Set(before.map((r) => `${r.orgId}/${r.keyId}/${r.deploymentId}`))).toEqual(
      new Set([`org_a/key_a/${DEP}`]),
    );
    expect(before.every((r) => r.bytesIn === r.calls * body.byteLength)).toBe(true);
    expect(await readFile(join(dir, 'usage', 'state.json'), 'utf8')).toContain('lastGeneration');
  });
});

describe('NonceCache', () => {
  it('forgets a nonce once its window has passed, and refuses room beyond its capacity', () => {
    const cache = new NonceCache(2);
    expect(cache.remember('a', 1_000, 0)).toBe('ok');
    expect(cache.remember('a', 1_000, 10)).toBe('replayed');
    expect(cache.remember('b', 1_000, 10)).toBe('ok');
    expect(cache.remember('c', 1_000, 10)).toBe('full');
    expect(cache.remember('c', 5_000, 1_001)).toBe('ok');
    expect(cache.seen('a', 1_001)).toBe(false);
    expect(cache.size).toBeLessThanOrEqual(2);
  });
});
