import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { agents, auditLog, notebookSessions, notebooks, workloads } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('notebooks', () => {
  let t: TestApp;
  let owner: Session;
  let admin: Session;
  let member: Session;
  let viewer: Session;
  let names = 0;
  const call = (method: string, path: string, token: string, body?: unknown) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });
  /** A fresh notebook of `who`'s, as its owner sees it. */
  const newNotebook = async (who: Session, body: Record<string, unknown> = {}) => {
    names += 1;
    const res = await call('POST', '/v1/notebooks', who.accessToken, {
      name: `nb-${names}`,
      gpuType: 't4',
      ...body,
    });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
    return res.json;
  };
  const auditCount = async (action: string, id: string) =>
    (
      await t.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, action), eq(auditLog.targetId, id)))
    ).length;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const join = async (role: string) => t.client.joinOrg(owner, await t.client.register(role), role);
    admin = await join('admin');
    member = await join('member');
    viewer = await join('viewer');
    // Images other than the default must be on the org's allow-list (tested below).
    const allowed = await call('POST', '/v1/allowed-images', owner.accessToken, {
      image: 'quay.io/jupyter/scipy-notebook',
    });
    if (allowed.status !== 201 && allowed.status !== 200) throw new Error(`allow: ${allowed.text}`);
  });
  afterAll(() => t.cleanup());

  it('stops the notebooks of a member removed from the org: nobody could stop them otherwise but admins, and they bill the org', async () => {
    const leaving = await t.client.joinOrg(owner, await t.client.register('leaving'), 'member');
    const nb = await newNotebook(leaving);
    expect(nb.desired).toBe('running');
    const removed = await call('DELETE', `/v1/org/members/${leaving.userId}`, owner.accessToken);
    expect(removed.status, removed.text).toBe(204);
    const after = await call('GET', `/v1/notebooks/${nb.id}`, owner.accessToken);
    expect(after.json).toMatchObject({ desired: 'stopped' });
    expect(await auditCount('notebook.stop', nb.id)).toBe(1);
    // Another member's notebook runs on.
    const kept = await newNotebook(member);
    expect((await call('GET', `/v1/notebooks/${kept.id}`, owner.accessToken)).json.desired).toBe('running');
  });

  it('creates a notebook asked to run, with a token and the edge URL its owner opens it at', async () => {
    const res = await call('POST', '/v1/notebooks', member.accessToken, { name: 'explore', gpuType: 't4' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      name: 'explore',
      ownerId: member.userId,
      gpuType: 't4',
      gpuCount: 1,
      image: 'meridian/notebook:1',
      idleTimeoutSeconds: 3600,
      desired: 'running',
      status: 'pending',
      statusReason: 'waiting for a host with room for it (1 × t4 GPU)',
      endpoint: null,
      lastActivityAt: null,
    });
    expect(res.json.id).toMatch(/^nb_[0-9a-z]{26}$/);
    expect(res.json.token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    // On an origin of its own (nb-<id>), never the edge's shared one: see @meridian/protocol's notebook-origin.
    expect(res.json.accessUrl).toBe(
      `http://nb-${res.json.id.slice(3)}.notebooks.localhost:8787/notebooks/${res.json.id}/`,
    );
    expect((await call('GET', `/v1/notebooks/${res.json.id}`, member.accessToken)).json).toEqual(res.json);
    expect(await auditCount('notebook.create', res.json.id)).toBe(1);

    const other = await newNotebook(member);
    expect(other.token).not.toBe(res.json.token);
    const cpu = await newNotebook(member, {
      gpuType: 'cpu',
      image: 'quay.io/jupyter/scipy-notebook:2024-05-27',
      idleTimeoutSeconds: 5,
    });
    expect(cpu).toMatchObject({
      gpuCount: 0,
      image: 'quay.io/jupyter/scipy-notebook:2024-05-27',
      idleTimeoutSeconds: 5,
    });
  });

  it('builds the access URL from the configured edge URL and notebook domain', async () => {
    const app = t.anotherInstance({
      edgePublicUrl: 'https://edge.example.com/',
      notebookDomain: 'notebooks.example.com',
    });
    const res = await app.request('/v1/notebooks', {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'via-edge', gpuType: 'cpu' }),
    });
    const body = (await res.json()) as { id: string; accessUrl: string };
    expect(body.accessUrl).toBe(`https://nb-${body.id.slice(3)}.notebooks.example.com/notebooks/${body.id}/`);
  });

  it('answers 400 naming the field to bad GPU choices, idle timeouts, images off the allow-list and names with path characters, and 409 to a taken name', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ gpuType: 'a100' }, 'gpuType'],
      [{ gpuType: 'cpu', gpuCount: 1 }, 'gpuCount'],
      [{ gpuType: 'v100', gpuCount: 0 }, 'gpuCount'],
      [{ gpuType: 't4', idleTimeoutSeconds: 4 }, 'idleTimeoutSeconds'],
      [{ gpuType: 't4', idleTimeoutSeconds: 7 * 24 * 3600 + 1 }, 'idleTimeoutSeconds'],
      [{ gpuType: 't4', image: 'Bad Image; rm -rf /' }, 'image'],
      // Well formed, but neither a platform image nor on the org's allow-list.
      [{ gpuType: 't4', image: 'ghcr.io/evil/miner:1' }, 'image'],
      [{ gpuType: 'cpu', name: '../etc' }, 'name'],
      [{ gpuType: 'cpu', name: 'a/b' }, 'name'],
      [{ gpuType: 'cpu', name: '..' }, 'name'],
      [{ gpuType: 'cpu', name: 'x\\y' }, 'name'],
    ];
    for (const [body, path] of cases) {
      const res = await call('POST', '/v1/notebooks', owner.accessToken, { name: 'bad', ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
      expect(res.json.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const taken = await newNotebook(owner);
    const again = await call('POST', '/v1/notebooks', member.accessToken, {
      name: taken.name,
      gpuType: 't4',
    });
    expect(again.status).toBe(409);
  });

  it("shows every notebook of the org to its members, but never another user's token or URLs", async () => {
    const mine = await newNotebook(owner);
    await t.db.update(notebooks).set({ endpoint: 'http://10.0.0.5:8888/' }).where(eq(notebooks.id, mine.id));
    for (const who of [viewer, member, admin]) {
      const shown = await call('GET', `/v1/notebooks/${mine.id}`, who.accessToken);
      expect(shown.status).toBe(200);
      expect(shown.json).toMatchObject({
        id: mine.id,
        ownerId: owner.userId,
        token: null,
        accessUrl: null,
        endpoint: null,
      });
      const listed = await call('GET', '/v1/notebooks?limit=200', who.accessToken);
      expect(listed.json.items.map((n: { id: string }) => n.id)).toContain(mine.id);
      expect(listed.text).not.toContain(mine.token);
    }
    const own = await call('GET', `/v1/notebooks/${mine.id}`, owner.accessToken);
    expect(own.json).toMatchObject({
      token: mine.token,
      endpoint: 'http://10.0.0.5:8888/',
      accessUrl: mine.accessUrl,
    });
    const ownList = await call('GET', '/v1/notebooks?limit=200', owner.accessToken);
    expect(ownList.json.items.find((n: { id: string }) => n.id === mine.id).token).toBe(mine.token);
  });

  it('stops and starts idempotently, writing the audit log only when something changed', async () => {
    const nb = await newNotebook(member);
    for (let i = 0; i < 2; i++) {
      const stopped = await call('POST', `/v1/notebooks/${nb.id}/stop`, member.accessToken);
      expect(stopped.status).toBe(200);
      expect(stopped.json).toMatchObject({ desired: 'stopped', token: nb.token });
    }
    expect(await auditCount('notebook.stop', nb.id)).toBe(1);
    for (let i = 0; i < 2; i++) {
      const started = await call('POST', `/v1/notebooks/${nb.id}/start`, member.accessToken);
      expect(started.status).toBe(200);
      expect(started.json.desired).toBe('running');
    }
    expect(await auditCount('notebook.start', nb.id)).toBe(1);
  });

  it("lets admins stop or delete anyone's notebook to free GPUs, but only its owner start it", async () => {
    const nb = await newNotebook(member);
    const other = await t.client.joinOrg(owner, await t.client.register('colleague'), 'member');
    for (const path of ['stop', 'start']) {
      const res = await call('POST', `/v1/notebooks/${nb.id}/${path}`, other.accessToken);
      expect(res.status, path).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
    }
    expect((await call('DELETE', `/v1/notebooks/${nb.id}`, other.accessToken)).status).toBe(403);
    expect((await call('POST', `/v1/notebooks/${nb.id}/stop`, viewer.accessToken)).status).toBe(403);
    expect(
      (await call('POST', '/v1/notebooks', viewer.accessToken, { name: 'mine', gpuType: 'cpu' })).status,
    ).toBe(403);

    const stopped = await call('POST', `/v1/notebooks/${nb.id}/stop`, admin.accessToken);
    expect(stopped.status).toBe(200);
    expect(stopped.json).toMatchObject({ desired: 'stopped', token: null });
    const start = await call('POST', `/v1/notebooks/${nb.id}/start`, admin.accessToken);
    expect(start.status).toBe(403);
    expect(start.json.error.message).toContain('owner');
    expect((await call('DELETE', `/v1/notebooks/${nb.id}`, owner.accessToken)).status).toBe(204);
    expect((await call('GET', `/v1/notebooks/${nb.id}`, member.accessToken)).status).toBe(404);
  });

  it('refuses every API key, even an admin one, saying a user token is needed', async () => {
    const nb = await newNotebook(owner);
    const key = (await t.client.createKey(owner, { scopes: ['admin'] })).secret;
    const attempts: [string, string, unknown?][] = [
      ['GET', '/v1/notebooks'],
      ['POST', '/v1/notebooks', { name: 'by-key', gpuType: 'cpu' }],
      ['GET', `/v1/notebooks/${nb.id}`],
      ['POST', `/v1/notebooks/${nb.id}/stop`],
      ['DELETE', `/v1/notebooks/${nb.id}`],
      ['GET', `/v1/notebooks/${nb.id}/sessions`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, key, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.message).toContain('user access token');
    }
    expect((await call('GET', `/v1/notebooks/${nb.id}`, owner.accessToken)).json.desired).toBe('running');
  });

  it('lists its sessions newest first with the seconds billed', async () => {
    const nb = await newNotebook(member);
    const first = newId('notebookSession', Date.parse('2025-01-01T10:00:00Z'));
    const second = newId('notebookSession', Date.parse('2025-01-02T10:00:00Z'));
    await t.db.insert(notebookSessions).values([
      {
        id: first,
        notebookId: nb.id,
        orgId: owner.orgId,
        gpuType: 't4',
        gpuCount: 1,
        startedAt: new Date('2025-01-01T10:00:00Z'),
        endedAt: new Date('2025-01-01T10:30:00Z'),
        seconds: 1800,
        endReason: 'idle',
      },
      {
        id: second,
        notebookId: nb.id,
        orgId: owner.orgId,
        gpuType: 't4',
        gpuCount: 1,
        startedAt: new Date('2025-01-02T10:00:00Z'),
      },
    ]);
    const res = await call('GET', `/v1/notebooks/${nb.id}/sessions`, viewer.accessToken);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      items: [
        {
          id: second,
          startedAt: '2025-01-02T10:00:00.000Z',
          endedAt: null,
          seconds: null,
          gpuType: 't4',
          gpuCount: 1,
          endReason: null,
        },
        {
          id: first,
          startedAt: '2025-01-01T10:00:00.000Z',
          endedAt: '2025-01-01T10:30:00.000Z',
          seconds: 1800,
          gpuType: 't4',
          gpuCount: 1,
          endReason: 'idle',
        },
      ],
      nextCursor: null,
    });
    const paged = await call('GET', `/v1/notebooks/${nb.id}/sessions?limit=1`, viewer.accessToken);
    expect(paged.json).toMatchObject({ items: [{ id: second }], nextCursor: second });
  });

  it('on delete moves the desired state of the agent that ran it, so the agent drops it', async () => {
    const agent = await registerTestAgent(t);
    const nb = await newNotebook(member);
    await t.db.insert(workloads).values({
      id: newId('workload'),
      kind: 'notebook',
      orgId: owner.orgId,
      notebookId: nb.id,
      agentId: agent.agentId,
      gpuType: 't4',
      gpuCount: 1,
      phase: 'ready',
    });
    const versionOf = async () =>
      (await t.db.select({ v: agents.desiredVersion }).from(agents).where(eq(agents.id, agent.agentId)))[0]
        ?.v;
    const before = await versionOf();
    const woken = t.desiredStateChanges.subscribe(agent.agentId);
    expect((await call('DELETE', `/v1/notebooks/${nb.id}`, admin.accessToken)).status).toBe(204);
    await woken.changed;
    expect(await versionOf()).toBe((before ?? 0) + 1);
    expect(await t.db.select().from(workloads).where(eq(workloads.notebookId, nb.id))).toEqual([]);
    expect(await auditCount('notebook.delete', nb.id)).toBe(1);
  });
});
