import { readFileSync } from 'node:fs';
import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { agents, auditLog, deploymentRevisions, workloads } from '../db/schema.js';
import { REAL_MODELS } from '../onnx/test-models.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const PADDLE_CLS = readFileSync(REAL_MODELS.paddleCls);
const IMAGE = 'ghcr.io/acme/torch-server:2.1';

describe('deployments', () => {
  let t: TestApp;
  let owner: Session;
  /** A model with a ready ONNX version 1 (alias production) and a ready PyTorch version 2. */
  let mixed: { id: string; name: string };
  let names = 0;
  const call = (method: string, path: string, body?: unknown, token = owner.accessToken) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });
  const nextName = () => {
    names += 1;
    return `dep-${names}`;
  };
  const deploy = async (body: Record<string, unknown>, token = owner.accessToken) =>
    call('POST', '/v1/deployments', { name: nextName(), model: mixed.id, gpuType: 't4', ...body }, token);
  const created = async (body: Record<string, unknown>) => {
    const res = await deploy(body);
    if (res.status !== 201) throw new Error(`deploy failed: ${res.status} ${res.text}`);
    return res.json;
  };
  const upload = async (
    modelId: string,
    file: string,
    bytes: Uint8Array | string,
    token = owner.accessToken,
  ) => {
    const res = await uploadVersion(t.app, token, modelId, file, bytes);
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${res.text}`);
    return res.json;
  };

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const id = await newModel(t.app, owner.accessToken, 'mixed-model');
    await upload(id, 'cls.onnx', PADDLE_CLS);
    await upload(id, 'net.pt', 'torch weights');
    await call('PUT', `/v1/models/${id}/aliases/production`, { version: 1 });
    mixed = { id, name: 'mixed-model' };
    const allowed = await call('POST', '/v1/allowed-images', { image: IMAGE });
    if (allowed.status !== 201) throw new Error(`allow-list failed: ${allowed.status} ${allowed.text}`);
  });
  afterAll(() => t.cleanup());

  it('deploys an ONNX version by alias with defaults, and shows revision, version, status and replicas', async () => {
    const res = await call('POST', '/v1/deployments', {
      name: 'cls-api',
      model: 'mixed-model',
      alias: 'production',
      gpuType: 't4',
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      name: 'cls-api',
      modelId: mixed.id,
      modelName: 'mixed-model',
      revision: 1,
      version: { version: 1, requested: 'alias:production' },
      runtime: 'onnx',
      image: null,
      gpuType: 't4',
      gpuCount: 1,
      minReplicas: 1,
      maxReplicas: 1,
      batching: null,
      deterministic: false,
      status: 'pending',
      statusReason: null,
      replicas: { total: 0, pending: 0, ready: 0 },
      createdBy: owner.userId,
    });
    expect(res.json.id).toMatch(/^dep_[0-9a-z]{26}$/);
    expect(res.json.version.id).toMatch(/^mdv_/);

    const shown = await call('GET', `/v1/deployments/${res.json.id}`);
    expect(shown.json).toEqual(res.json);
    const listed = await call('GET', '/v1/deployments?name=cls-api');
    expect(listed.json).toEqual({ items: [res.json], nextCursor: null });

    const events = await call('GET', `/v1/deployments/${res.json.id}/events`);
    expect(events.json.items).toEqual([
      {
        id: expect.stringMatching(/^dpe_/),
        type: 'created',
        message: expect.stringContaining('version 1'),
        at: expect.any(String),
      },
    ]);
    const [audit] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'deployment.create'), eq(auditLog.targetId, res.json.id)));
    expect(audit).toMatchObject({ actorId: owner.userId, orgId: owner.orgId, targetType: 'deployment' });
  });

  it('deploys a PyTorch version on the container runtime with its image and every setting given', async () => {
    const dep = await created({
      version: 2,
      image: IMAGE,
      gpuType: 'rtx4090',
      gpuCount: 2,
      minReplicas: 2,
      maxReplicas: 5,
      batching: { maxBatchSize: 32, maxQueueDelayMs: 5 },
      deterministic: true,
    });
    expect(dep).toMatchObject({
      runtime: 'container',
      image: IMAGE,
      gpuType: 'rtx4090',
      gpuCount: 2,
      minReplicas: 2,
      maxReplicas: 5,
      batching: { maxBatchSize: 32, maxQueueDelayMs: 5 },
      deterministic: true,
      version: { version: 2, requested: 'version:2' },
    });
    const cpu = await created({ version: 1, gpuType: 'cpu' });
    expect(cpu).toMatchObject({ gpuType: 'cpu', gpuCount: 0, runtime: 'onnx' });
  });

  it('refuses a non-ONNX version on the onnx runtime with a 422 naming its format', async () => {
    const res = await deploy({ version: 2, runtime: 'onnx' });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('unprocessable');
    expect(res.json.error.message).toContain('pytorch');
  });

  it('refuses at creation an image that is neither a platform image nor on the allow-list, naming the field', async () => {
    const res = await deploy({ version: 1, runtime: 'container', image: 'ghcr.io/evil/miner:1' });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([
      { path: 'image', message: expect.stringContaining('allow-list') },
    ]);
  });

  it('asks for an image on the container runtime and refuses one on the onnx runtime', async () => {
    const missing = await deploy({ version: 2 });
    expect(missing.status).toBe(400);
    expect(missing.json.error.details).toEqual([
      { path: 'image', message: expect.stringContaining('container') },
    ]);
    const extra = await deploy({ version: 1, image: IMAGE });
    expect(extra.status).toBe(400);
    expect(extra.json.error.details).toEqual([{ path: 'image', message: expect.stringContaining('onnx') }]);
    // An ONNX file may still be served by an image of one's own.
    expect((await deploy({ version: 1, runtime: 'container', image: IMAGE })).status).toBe(201);
  });

  it('answers 400 naming the field for bad GPU, replica, batching and version choices', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ version: 1, gpuType: 'a100' }, 'gpuType'],
      [{ version: 1, gpuType: 'cpu', gpuCount: 1 }, 'gpuCount'],
      [{ version: 1, gpuType: 't4', gpuCount: 0 }, 'gpuCount'],
      [{ version: 1, gpuCount: 9 }, 'gpuCount'],
      [{ version: 1, minReplicas: 3, maxReplicas: 2 }, 'maxReplicas'],
      [{ version: 1, minReplicas: -1 }, 'minReplicas'],
      [{ version: 1, maxReplicas: 21 }, 'maxReplicas'],
      [{ version: 1, batching: { maxBatchSize: 2048, maxQueueDelayMs: 1 } }, 'batching.maxBatchSize'],
      [{ version: 1, batching: { maxBatchSize: 8, maxQueueDelayMs: 1001 } }, 'batching.maxQueueDelayMs'],
      [{ version: 1, alias: 'production' }, 'alias'],
      [{}, 'version'],
      [{ version: 1, name: '../etc' }, 'name'],
    ];
    for (const [body, path] of cases) {
      const res = await deploy(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
      expect(
        res.json.error.details.map((d: { path: string }) => d.path),
        JSON.stringify(body),
      ).toContain(path);
    }
  });

  it("answers 404 to another org's model exactly as to one that does not exist", async () => {
    const other = await t.client.register('other');
    const theirs = await newModel(t.app, other.accessToken, 'their-model');
    await upload(theirs, 'net.pt', 'their weights', other.accessToken);
    const answers = await Promise.all(
      [theirs, 'their-model', `mdl_${'0'.repeat(26)}`, 'no-such-model'].map((model) =>
        deploy({ model, version: 1, image: IMAGE }),
      ),
    );
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.json.error).toMatchObject({ code: 'not_found', message: 'Model not found' });
    }
  });

  it('names the model, by its name, when the version or alias asked of it does not exist', async () => {
    const named = await newModel(t.app, owner.accessToken, 'ocr-named');
    expect((await deploy({ model: named, version: 9 })).json.error.message).toBe(
      'Model ocr-named has no version 9',
    );
    const alias = await deploy({ model: named, alias: 'nope' });
    expect(alias.status).toBe(404);
    expect(alias.json.error).toMatchObject({
      code: 'not_found',
      message: 'Model ocr-named has no alias "nope"',
    });
    const latest = await deploy({ model: named, alias: 'latest' });
    expect(latest.status).toBe(404);
    expect(latest.json.error.message).toBe('Model ocr-named has no ready version, so "latest" names none');
    const unset = await call('DELETE', `/v1/models/${named}/aliases/nope`);
    expect(unset.status).toBe(404);
    expect(unset.json.error.message).toBe('Model ocr-named has no alias "nope"');
  });

  it('refuses a version that is not ready with 409, saying what it is', async () => {
    const id = await newModel(t.app, owner.accessToken);
    const started = await call('POST', `/v1/models/${id}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 5,
      partCount: 1,
    });
    expect(started.status).toBe(201);
    const res = await deploy({ model: id, version: 1, image: IMAGE });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'conflict', message: 'Version 1 is uploading, not ready' });
  });

  it('keeps names unique in an org, not across orgs', async () => {
    const first = await created({ version: 1 });
    const again = await call('POST', '/v1/deployments', {
      name: first.name,
      model: mixed.id,
      version: 1,
      gpuType: 't4',
    });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toContain(first.name);
    const other = await t.client.register('elsewhere');
    const model = await newModel(t.app, other.accessToken, 'same');
    await upload(model, 'net.pt', 'w', other.accessToken);
    await call('POST', '/v1/allowed-images', { image: IMAGE }, other.accessToken);
    const elsewhere = await call(
      'POST',
      '/v1/deployments',
      { name: first.name, model: 'same', version: 1, image: IMAGE, gpuType: 'cpu' },
      other.accessToken,
    );
    expect(elsewhere.status).toBe(201);
  });

  it('rolls out another version as a new revision with a rollout_requested event', async () => {
    const dep = await created({ version: 1, runtime: 'container', image: IMAGE });
    const rolled = await call('PATCH', `/v1/deployments/${dep.id}`, { version: 2 });
    expect(rolled.status, rolled.text).toBe(200);
    expect(rolled.json).toMatchObject({ revision: 2, version: { version: 2, requested: 'version:2' } });
    // The same version again is nothing to roll out.
    const same = await call('PATCH', `/v1/deployments/${dep.id}`, { version: 2 });
    expect(same.json.revision).toBe(2);
    // An alias is resolved once, when the revision is made.
    const back = await call('PATCH', `/v1/deployments/${dep.id}`, { alias: 'production' });
    expect(back.json).toMatchObject({ revision: 3, version: { version: 1, requested: 'alias:production' } });
    // The same version by another name rolls nothing out, and the deployment shows the name it was asked by.
    const renamed = await call('PATCH', `/v1/deployments/${dep.id}`, { version: 1 });
    expect(renamed.json).toMatchObject({ revision: 3, version: { version: 1, requested: 'version:1' } });

    const revisions = await t.db
      .select({ revision: deploymentRevisions.revision, requested: deploymentRevisions.requested })
      .from(deploymentRevisions)
      .where(eq(deploymentRevisions.deploymentId, dep.id))
      .orderBy(deploymentRevisions.revision);
    expect(revisions).toEqual([
      { revision: 1, requested: 'version:1' },
      { revision: 2, requested: 'version:2' },
      { revision: 3, requested: 'version:1' },
    ]);
    const events = await call('GET', `/v1/deployments/${dep.id}/events`);
    expect(events.json.items.map((e: { type: string }) => e.type)).toEqual([
      'created',
      'rollout_requested',
      'rollout_requested',
      'updated',
    ]);
    expect(events.json.items[1].message).toContain('Revision 2');
    // Newest first, two to a page: the same events from the other end, the cursor continuing that way.
    const recent = await call('GET', `/v1/deployments/${dep.id}/events?order=newest&limit=2`);
    const rest = await call(
      'GET',
      `/v1/deployments/${dep.id}/events?order=newest&limit=2&cursor=${recent.json.nextCursor}`,
    );
    expect([...recent.json.items, ...rest.json.items].map((e: { id: string }) => e.id)).toEqual(
      events.json.items.map((e: { id: string }) => e.id).reverse(),
    );
    expect(rest.json.nextCursor).toBeNull();
    expect((await call('GET', `/v1/deployments/${dep.id}/events?order=latest`)).status).toBe(400);
    expect(events.json.items[3].message).toBe(
      'Changed the name it was asked by alias:production → version:1 (the same version, nothing rolled out)',
    );
    // Each rollout's and the renaming's audit entry names the deployment; the repeated version wrote none.
    expect(await t.client.auditNames(owner.accessToken, 'deployment.update', dep.id)).toEqual([
      dep.name,
      dep.name,
      dep.name,
    ]);
  });

  it('refuses to roll an onnx deployment out to a PyTorch version (422) or to a missing one (404)', async () => {
    const dep = await created({ version: 1 });
    const res = await call('PATCH', `/v1/deployments/${dep.id}`, { version: 2 });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain('pytorch');
    expect((await call('PATCH', `/v1/deployments/${dep.id}`, { version: 7 })).status).toBe(404);
    expect((await call('GET', `/v1/deployments/${dep.id}`)).json.revision).toBe(1);
  });

  it('changes replicas, batching and determinism in place, with an updated event', async () => {
    const dep = await created({ version: 1, batching: { maxBatchSize: 8, maxQueueDelayMs: 2 } });
    const res = await call('PATCH', `/v1/deployments/${dep.id}`, {
      minReplicas: 2,
      maxReplicas: 4,
      deterministic: true,
      batching: null,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      revision: 1,
      minReplicas: 2,
      maxReplicas: 4,
      deterministic: true,
      batching: null,
    });
    const tooLow = await call('PATCH', `/v1/deployments/${dep.id}`, { maxReplicas: 1 });
    expect(tooLow.status).toBe(400);
    expect(tooLow.json.error.details).toEqual([
      { path: 'maxReplicas', message: 'minReplicas (2) must not exceed maxReplicas (1)' },
    ]);
    expect((await call('PATCH', `/v1/deployments/${dep.id}`, {})).status).toBe(400);
    const events = await call('GET', `/v1/deployments/${dep.id}/events`);
    expect(events.json.items.at(-1)).toMatchObject({
      type: 'updated',
      message: expect.stringContaining('minReplicas 1 → 2'),
    });
  });

  it('pages through deployments newest first and through events oldest first', async () => {
    const user = await t.client.register('pager');
    const model = await newModel(t.app, user.accessToken, 'paged');
    await upload(model, 'cls.onnx', PADDLE_CLS, user.accessToken);
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const res = await call(
        'POST',
        '/v1/deployments',
        { name, model: 'paged', version: 1, gpuType: 'cpu' },
        user.accessToken,
      );
      ids.push(res.json.id);
    }
    const first = await call('GET', '/v1/deployments?limit=2', undefined, user.accessToken);
    expect(first.json.items.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    const second = await call(
      'GET',
      `/v1/deployments?limit=2&cursor=${first.json.nextCursor}`,
      undefined,
      user.accessToken,
    );
    expect(second.json).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });

    const target = ids[0] ?? '';
    for (const n of [2, 3]) {
      await call('PATCH', `/v1/deployments/${target}`, { maxReplicas: n }, user.accessToken);
    }
    const page1 = await call('GET', `/v1/deployments/${target}/events?limit=2`, undefined, user.accessToken);
    expect(page1.json.items.map((e: { type: string }) => e.type)).toEqual(['created', 'updated']);
    const page2 = await call(
      'GET',
      `/v1/deployments/${target}/events?limit=2&cursor=${page1.json.nextCursor}`,
      undefined,
      user.accessToken,
    );
    expect(page2.json).toMatchObject({
      items: [{ type: 'updated', message: expect.stringContaining('2 → 3') }],
      nextCursor: null,
    });
  });

  it('keeps a deployed version and its model from being deleted until the deployment is gone', async () => {
    const model = await newModel(t.app, owner.accessToken);
    await upload(model, 'a.onnx', PADDLE_CLS);
    await upload(model, 'b.onnx', PADDLE_CLS);
    const dep = await created({ model, version: 1, gpuType: 'cpu' });
    await call('PATCH', `/v1/deployments/${dep.id}`, { version: 2 });
    const modelName = (await call('GET', `/v1/models/${model}`)).json.name;
    // Revision 1 still names version 1: its replicas may serve until revision 2 is ready. Each refusal names
    // the deployment (not its id), and says whether it serves the version now or kept it from a revision.
    for (const [path, message] of [
      [
        `/v1/models/${model}/versions/1`,
        `Version 1 is deployed in an earlier revision of deployment "${dep.name}", kept until the deployment is deleted`,
      ],
      [
        `/v1/models/${model}/versions/2`,
        `Version 2 is deployed by deployment "${dep.name}"; delete it or move it to another version first`,
      ],
      [
        `/v1/models/${model}`,
        `Model "${modelName}" is deployed by deployment "${dep.name}"; delete it first`,
      ],
    ]) {
      const res = await call('DELETE', path ?? '');
      expect(res.status, path).toBe(409);
      expect(res.json.error.message).toBe(message);
    }
    expect((await call('DELETE', `/v1/deployments/${dep.id}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/models/${model}/versions/1`)).status).toBe(204);
    expect((await call('DELETE', `/v1/models/${model}`)).status).toBe(204);
  });

  it("counts replicas by phase, and on delete moves the holding agent's desired state on", async () => {
    const agent = await registerTestAgent(t);
    const dep = await created({ version: 1, minReplicas: 2, maxReplicas: 2 });
    // What the scheduler would have done: one replica placed and ready, one not placed yet.
    const replica = (phase: 'ready' | 'pending', agentId: string | null) => ({
      id: newId('workload'),
      kind: 'model' as const,
      orgId: owner.orgId,
      deploymentId: dep.id,
      revision: 1,
      agentId,
      gpuType: 't4' as const,
      gpuCount: 1,
      phase,
    });
    await t.db.insert(workloads).values([replica('ready', agent.agentId), replica('pending', null)]);
    const shown = await call('GET', `/v1/deployments/${dep.id}`);
    expect(shown.json.replicas).toEqual({
      total: 2,
      pending: 1,
      pulling: 0,
      loading: 0,
      ready: 1,
      failed: 0,
      stopped: 0,
    });

    const versionOf = async () =>
      (await t.db.select({ v: agents.desiredVersion }).from(agents).where(eq(agents.id, agent.agentId)))[0]
        ?.v;
    const before = await versionOf();
    const woken = t.desiredStateChanges.subscribe(agent.agentId);
    const removed = await call('DELETE', `/v1/deployments/${dep.id}`);
    expect(removed.status).toBe(204);
    await woken.changed;
    expect(await versionOf()).toBe((before ?? 0) + 1);
    expect(await t.db.select().from(workloads).where(eq(workloads.deploymentId, dep.id))).toEqual([]);
    expect((await call('GET', `/v1/deployments/${dep.id}`)).status).toBe(404);
    expect((await call('GET', `/v1/deployments/${dep.id}/events`)).status).toBe(404);
  });

  it('kicks the scheduler after every change', async () => {
    let kicks = 0;
    const app = t.anotherInstance({ scheduler: { kick: () => (kicks += 1) } });
    const send = async (method: string, path: string, body?: unknown) =>
      (
        await app.request(path, {
          method,
          headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      ).json() as Promise<{ id: string }>;
    const dep = await send('POST', '/v1/deployments', {
      name: nextName(),
      model: mixed.id,
      version: 1,
      gpuType: 't4',
    });
    expect(kicks).toBe(1);
    await send('PATCH', `/v1/deployments/${dep.id}`, { maxReplicas: 3 });
    expect(kicks).toBe(2);
    await app.request(`/v1/deployments/${dep.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(kicks).toBe(3);
  });

  it('lets viewers and deployments:read keys read, deployments:write keys write, and no one else', async () => {
    const viewer = await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer');
    const reader = (await t.client.createKey(owner, { scopes: ['deployments:read'] })).secret;
    const writer = (await t.client.createKey(owner, { scopes: ['deployments:write'] })).secret;
    const modelsKey = (await t.client.createKey(owner, { scopes: ['models:write'] })).secret;
    for (const token of [viewer.accessToken, reader, writer]) {
      expect((await call('GET', '/v1/deployments', undefined, token)).status).toBe(200);
    }
    expect((await call('GET', '/v1/deployments', undefined, modelsKey)).status).toBe(403);
    // A person is told the roles that may; a key, the scope it lacks.
    const refusals = [
      [viewer.accessToken, 'needs the owner, admin or member role; you are a viewer here'],
      [reader, 'it needs the deployments:write or admin scope'],
      [modelsKey, 'it needs the deployments:write or admin scope'],
    ] as const;
    for (const [token, reason] of refusals) {
      const res = await deploy({ version: 1 }, token);
      expect(res.status).toBe(403);
      expect(res.json.error.message).toContain(reason);
    }
    const byKey = await deploy({ version: 1 }, writer);
    expect(byKey.status).toBe(201);
    expect(byKey.json.createdBy).toMatch(/^key_/);
  });
});
