import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNotebookRun, registerTestAgent } from '../../testing/agents.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { notebooks, workloads } from '../db/schema.js';
import { AppError } from '../errors.js';
import { saveNotebookVolume } from '../services/notebooks/volumes.js';
import type { ObjectStore } from '../storage/object-store.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Agent = { agentId: string; credential: string };

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// A notebook's files between agents, through the real app on libSQL and the filesystem object store.
describe('notebook volumes', () => {
  let t: TestApp;
  let owner: Session;
  let first: Agent;
  let second: Agent;
  let notebookId = '';
  const volume = (agent: Agent, method: string, body?: string, headers: Record<string, string> = {}) =>
    t.app.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      method,
      headers: { authorization: `Bearer ${agent.credential}`, ...headers },
      ...(body === undefined ? {} : { body }),
    });
  const place = (agent: Agent) =>
    t.db.insert(workloads).values({
      id: newId('workload'),
      kind: 'notebook',
      orgId: owner.orgId,
      notebookId,
      agentId: agent.agentId,
      gpuType: 'cpu',
      gpuCount: 0,
      phase: 'pending',
    });
  const ran = (agent: Agent, endedAt: Date) =>
    recordNotebookRun(t, {
      notebookId,
      orgId: owner.orgId,
      agentId: agent.agentId,
      startedAt: new Date(endedAt.getTime() - 60_000),
      endedAt,
    });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    first = await registerTestAgent(t);
    second = await registerTestAgent(t);
    const created = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'travel', gpuType: 'cpu' },
    });
    notebookId = created.json.id;
  });
  afterAll(() => t.cleanup());

  it('answers 404 to an agent that never ran the notebook, and before anything was saved', async () => {
    expect((await volume(first, 'PUT', 'tar')).status).toBe(404);
    expect((await volume(first, 'GET')).status).toBe(404);
    await place(first);
    expect((await volume(first, 'GET')).status).toBe(404); // placed, nothing saved yet
    expect((await volume(second, 'GET')).status).toBe(404); // not placed there
  });

  it('keeps what the agent that ran it saved, for the next agent to fetch; 304 when it has that save', async () => {
    await ran(first, new Date());
    const saved = await volume(first, 'PUT', 'the notebook files as a tar');
    expect(saved.status, await saved.clone().text()).toBe(201);
    await place(second);
    const got = await volume(second, 'GET');
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('the notebook files as a tar');
    const etag = got.headers.get('etag') ?? '';
    expect((await volume(second, 'GET', undefined, { 'if-none-match': etag })).status).toBe(304);
  });

  it('waits for the save of a run that ended on another online agent, so a quick restart never gets older files', async () => {
    await ran(first, new Date(Date.now() + 1_000)); // its run ended after the last save: a save is due
    const started = Date.now();
    const pending = volume(second, 'GET');
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await volume(first, 'PUT', 'newer files')).status).toBe(201);
    const got = await pending;
    expect(await got.text()).toBe('newer files');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  });

  it('streams a save sent without a length into the store, and refuses one past the limit with 413', async () => {
    // The store is the real one; only told when a save starts writing into it.
    const writing = deferred();
    const store: ObjectStore = Object.create(t.objectStore);
    store.put = (...args) => {
      writing.resolve();
      return t.objectStore.put(...args);
    };
    // Larger than the app's JSON body limit (1 MiB here), which a notebook's files are not held to.
    const small = t.anotherInstance({ maxNotebookVolumeBytes: 4 * 1024 * 1024, objectStore: store });
    // As the agent sends its tar: chunk by chunk as it is made, so no Content-Length. The rest is sent only once
    // the store is being written: a route that read the whole body first (to count it) would never get it.
    async function* tar(bytes: number) {
      yield Buffer.alloc(16 * 1024);
      await Promise.race([
        writing.promise,
        sleep(5_000).then(() => Promise.reject(new Error('never streamed'))),
      ]);
      for (let sent = 16 * 1024; sent < bytes; sent += 16 * 1024)
        yield Buffer.alloc(Math.min(16 * 1024, bytes - sent));
    }
    const save = (bytes: number) =>
      small.request(`/agent/v1/notebooks/${notebookId}/volume`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${first.credential}` },
        body: Readable.toWeb(Readable.from(tar(bytes))) as ReadableStream<Uint8Array>,
        duplex: 'half',
      } as RequestInit);
    const fits = await save(2 * 1024 * 1024);
    expect(fits.status, await fits.clone().text()).toBe(201);
    expect(((await fits.json()) as { sizeBytes: number }).sizeBytes).toBe(2 * 1024 * 1024);
    const over = await save(5 * 1024 * 1024);
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { message: string } }).error.message).toBe(
      "A notebook's files may take 4194304 bytes",
    );
    // The refused save left the one before it as the notebook's files.
    const kept = await small.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      headers: { authorization: `Bearer ${first.credential}` },
    });
    expect((await kept.arrayBuffer()).byteLength).toBe(2 * 1024 * 1024);
  });

  it('deletes the saved files with the notebook', async () => {
    const listed = async () => {
      const keys: string[] = [];
      for await (const o of t.objectStore.list(`orgs/${owner.orgId}/notebooks/${notebookId}/`))
        keys.push(o.key);
      return keys;
    };
    expect(await listed()).toHaveLength(1);
    const deleted = await t.client.call('DELETE', `/v1/notebooks/${notebookId}`, {
      token: owner.accessToken,
    });
    expect(deleted.status).toBe(204);
    expect(await listed()).toEqual([]);
    // The agent that ran it, saving late, is refused and leaves nothing behind.
    expect((await volume(first, 'PUT', 'files saved after the delete')).status).toBe(404);
    expect(await listed()).toEqual([]);
  });

  it('leaves nothing behind when a save still streaming as the notebook is deleted ends after the cleanup', async () => {
    const created = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'raced', gpuType: 'cpu' },
    });
    const id: string = created.json.id;
    await recordNotebookRun(t, {
      notebookId: id,
      orgId: owner.orgId,
      agentId: first.agentId,
      startedAt: new Date(Date.now() - 60_000),
      endedAt: new Date(),
    });
    // Staged below the route (which takes in a chunked body whole before its handler runs): the save has
    // passed every check once the store reads its body, and the delete runs while it streams.
    const streaming = deferred();
    const finish = deferred();
    let sent = false;
    const body = new Readable({
      read() {
        if (sent) return;
        sent = true;
        this.push('files of a notebook being deleted');
        streaming.resolve();
        void finish.promise.then(() => this.push(null));
      },
    });
    const savedLate = saveNotebookVolume(
      { db: t.db, objectStore: t.objectStore },
      first.agentId,
      id,
      body,
    ).then(
      () => 'saved',
      (err: unknown) => (err instanceof AppError ? err.code : String(err)),
    );
    await streaming.promise;
    expect((await t.client.call('DELETE', `/v1/notebooks/${id}`, { token: owner.accessToken })).status).toBe(
      204,
    );
    finish.resolve();
    expect(await savedLate).toBe('not_found');
    const left: string[] = [];
    for await (const o of t.objectStore.list(`orgs/${owner.orgId}/notebooks/${id}/`)) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('tells an agent which of the notebooks it ran were deleted, and nothing of any other', async () => {
    const ask = (agent: Agent, notebookIds: string[]) =>
      t.app.request('/agent/v1/notebooks/deleted', {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ notebookIds }),
      });
    const kept = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'kept', gpuType: 'cpu' },
    });
    const neverRan = 'nb_0000000000never';
    // `first` ran the deleted one (sessions stay for billing); `second` only held it, never ran it.
    const answered = await ask(first, [notebookId, kept.json.id, neverRan]);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ deleted: [notebookId] });
    expect(await (await ask(second, [notebookId])).json()).toEqual({ deleted: [] });
    expect((await ask(first, ['../etc'])).status).toBe(400);
    expect((await t.app.request('/agent/v1/notebooks/deleted', { method: 'POST', body: '{}' })).status).toBe(
      401,
    );
  });

  it('refuses a bad notebook id and an unknown agent', async () => {
    const bad = await t.app.request('/agent/v1/notebooks/..%2Fetc/volume', {
      headers: { authorization: `Bearer ${first.credential}` },
    });
    expect(bad.status).toBe(400);
    const anon = await t.app.request(`/agent/v1/notebooks/${notebookId}/volume`);
    expect(anon.status).toBe(401);
  });
});

// A save the agent gave up on (after its retries), as the notebook's owner reads it.
describe('a notebook whose files could not be saved', () => {
  let t: TestApp;
  let owner: Session;
  let ranIt: Agent;
  let other: Agent;
  let notebookId = '';
  const report = (agent: Agent, body: unknown) =>
    t.app.request(`/agent/v1/notebooks/${notebookId}/volume/failure`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const reason = async () =>
    (await t.client.call('GET', `/v1/notebooks/${notebookId}`, { token: owner.accessToken })).json
      .statusReason as string;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    ranIt = await registerTestAgent(t);
    other = await registerTestAgent(t);
    const created = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'unsaved', gpuType: 'cpu' },
    });
    notebookId = created.json.id;
    // It ran on `ranIt` and has stopped as asked (what the scheduler records when it leaves the host).
    await recordNotebookRun(t, {
      notebookId,
      orgId: owner.orgId,
      agentId: ranIt.agentId,
      startedAt: new Date(Date.now() - 60_000),
      endedAt: new Date(),
    });
    await t.db
      .update(notebooks)
      .set({ desired: 'stopped', status: 'stopped' })
      .where(eq(notebooks.id, notebookId));
  });
  afterAll(() => t.cleanup());

  it('answers 503 saying only that storage did not take the files, never what the store said', async () => {
    const store: ObjectStore = Object.create(t.objectStore);
    store.put = () => Promise.reject(new Error('NoSuchBucket: meridian-secret-bucket at 10.0.0.7'));
    const broken = t.anotherInstance({ objectStore: store });
    const res = await broken.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ranIt.credential}` },
      body: 'tar',
    });
    expect(res.status).toBe(503);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    expect(message).toBe('The platform’s file storage did not take the files; try again later');
  });

  it('is said on the stopped notebook when the agent that ran it reports it, and no other agent may', async () => {
    expect((await report(other, { cause: 'storage', attempts: 4 })).status).toBe(404);
    expect(await reason()).toBe('stopped as asked; its files are kept for the next start');
    expect((await report(ranIt, { cause: 'storage', attempts: 4, path: '/etc' })).status).toBe(400);
    expect((await report(ranIt, { cause: 'a tale', attempts: 4 })).status).toBe(400);

    expect((await report(ranIt, { cause: 'storage', attempts: 4 })).status).toBe(204);
    expect(await reason()).toBe(
      'stopped, but its files could not be saved: the platform’s file storage did not take them (tried 4 times). ' +
        'They are still on the host that ran it: start the notebook again to retry; a start on that host saves ' +
        'them first, a start on another host opens the files saved before',
    );
  });

  it('is no longer said once a save succeeds', async () => {
    const saved = await t.app.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ranIt.credential}` },
      body: 'the notebook files as a tar',
    });
    expect(saved.status).toBe(201);
    expect(await reason()).toBe('stopped as asked; its files are kept for the next start');
  });
});

describe('a conditional save (a host saving the copy whose save failed, before it starts it again)', () => {
  let t: TestApp;
  let owner: Session;
  let agent: Agent;
  let notebookId = '';
  const put = (headers: Record<string, string>) =>
    t.app.request(`/agent/v1/notebooks/${notebookId}/volume`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${agent.credential}`, ...headers },
      body: 'tar',
    });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    agent = await registerTestAgent(t);
    notebookId = (
      await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'conditional', gpuType: 'cpu' },
      })
    ).json.id;
    await recordNotebookRun(t, { notebookId, orgId: owner.orgId, agentId: agent.agentId });
  });
  afterAll(() => t.cleanup());

  it('stores over the save its copy was made from, and refuses with 409 once another was stored since', async () => {
    const first = await put({ 'if-none-match': '*' });
    expect(first.status, await first.clone().text()).toBe(201);
    const { savedAt } = (await first.json()) as { savedAt: number };
    // Made before any save, or from an older one: newer files were stored since, which it must not replace.
    expect((await put({ 'if-none-match': '*' })).status).toBe(409);
    expect((await put({ 'if-match': `"${savedAt - 1}"` })).status).toBe(409);
    expect((await put({ 'if-match': 'yesterday' })).status).toBe(400);
    await sleep(2); // a save's key is its millisecond
    expect((await put({ 'if-match': `"${savedAt}"` })).status).toBe(201);
  });
});
