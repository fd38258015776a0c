import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { getStoredBytes } from '../services/storage-accounting.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Body = NonNullable<RequestInit['body']>;
interface Artifact {
  id: string;
  sha256: string;
  sizeBytes: number;
}
interface Envelope {
  error: { code: string };
}
type AppLike = { request(path: string, init?: RequestInit): Response | Promise<Response> };

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('run artifacts', () => {
  let t: TestApp;
  let owner: Session;
  let viewer: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    viewer = await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer');
  });
  afterAll(() => t.cleanup());

  let counter = 0;
  const newRun = async () => {
    counter += 1;
    const exp = await t.client.call('POST', '/v1/experiments', {
      token: owner.accessToken,
      body: { name: `artifacts ${counter}` },
    });
    const run = await t.client.call('POST', `/v1/experiments/${exp.json.id}/runs`, {
      token: owner.accessToken,
      body: {},
    });
    return { experimentId: exp.json.id as string, runId: run.json.id as string };
  };

  const upload = (
    runId: string,
    path: string,
    body: Body,
    options: { token?: string; headers?: Record<string, string>; app?: AppLike } = {},
  ) =>
    (options.app ?? t.app).request(`/v1/runs/${runId}/artifacts?path=${encodeURIComponent(path)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${options.token ?? owner.accessToken}`, ...options.headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
  const download = (runId: string, path: string, token = owner.accessToken) =>
    t.app.request(`/v1/runs/${runId}/artifacts/content?path=${encodeURIComponent(path)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
  const objectKeysOf = async (runId: string) => {
    const keys: string[] = [];
    for await (const o of t.objectStore.list(`orgs/${owner.orgId}/runs/${runId}/`)) keys.push(o.key);
    return keys;
  };
  const artifactBytes = async () => (await getStoredBytes(t.db, owner.orgId)).artifactBytes;

  it('uploads past the 1 MB JSON limit, lists, downloads the exact bytes, replaces and deletes', async () => {
    const { runId } = await newRun();
    const before = await artifactBytes();
    const bytes = new Uint8Array(randomBytes(2 * 1024 * 1024 + 17));
    const put = await upload(runId, 'plots/loss.png', bytes, { headers: { 'content-type': 'image/png' } });
    expect(put.status).toBe(200);
    const stored = (await put.json()) as Artifact;
    expect(stored).toMatchObject({
      runId,
      path: 'plots/loss.png',
      sizeBytes: bytes.length,
      contentType: 'image/png',
    });
    expect(stored.sha256).toBe(sha256(bytes));
    expect(stored.id).toMatch(/^art_/);
    expect(await artifactBytes()).toBe(before + bytes.length);

    const keys = await objectKeysOf(runId);
    expect(keys).toEqual([`orgs/${owner.orgId}/runs/${runId}/artifacts/${stored.id}`]);

    const listed = await t.client.call('GET', `/v1/runs/${runId}/artifacts`, { token: viewer.accessToken });
    expect(listed.json).toEqual({ items: [stored], nextCursor: null });

    const got = await download(runId, 'plots/loss.png', viewer.accessToken);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(got.headers.get('content-length')).toBe(String(bytes.length));
    expect(got.headers.get('content-disposition')).toBe('attachment; filename="loss.png"');
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

    const smaller = new TextEncoder().encode('epoch,loss\n0,0.9\n');
    const replaced = await upload(runId, 'plots/loss.png', smaller);
    expect(replaced.status).toBe(200);
    const second = (await replaced.json()) as Artifact;
    expect(second).toMatchObject({ sizeBytes: smaller.length, contentType: 'application/octet-stream' });
    expect(second.id).not.toBe(stored.id);
    expect(await artifactBytes()).toBe(before + smaller.length);
    expect(await objectKeysOf(runId)).toEqual([`orgs/${owner.orgId}/runs/${runId}/artifacts/${second.id}`]);
    expect(Buffer.from(await (await download(runId, 'plots/loss.png')).arrayBuffer()).toString()).toBe(
      'epoch,loss\n0,0.9\n',
    );

    const removed = await t.client.call('DELETE', `/v1/runs/${runId}/artifacts?path=plots/loss.png`, {
      token: owner.accessToken,
    });
    expect(removed.status).toBe(200);
    expect((await download(runId, 'plots/loss.png')).status).toBe(404);
    expect(await objectKeysOf(runId)).toEqual([]);
    expect(await artifactBytes()).toBe(before);
    const again = await t.client.call('DELETE', `/v1/runs/${runId}/artifacts?path=plots/loss.png`, {
      token: owner.accessToken,
    });
    expect(again.status).toBe(404);
    // Each entry names the run and the path, as people read the log.
    const runName = (await t.client.call('GET', `/v1/runs/${runId}`, { token: owner.accessToken })).json.name;
    const named = `${runName} › plots/loss.png`;
    const names = (action: string, id: string) => t.client.auditNames(owner.accessToken, action, id);
    expect(await names('artifact.upload', stored.id)).toEqual([named]);
    expect(await names('artifact.upload', second.id)).toEqual([named]);
    expect(await names('artifact.delete', second.id)).toEqual([named]);
  });

  it('lists by path with a prefix and pages', async () => {
    const { runId } = await newRun();
    for (const path of ['b.txt', 'plots/a.png', 'plots/b.png', 'model/weights.bin']) {
      expect((await upload(runId, path, 'x')).status).toBe(200);
    }
    const list = (q: string) =>
      t.client.call('GET', `/v1/runs/${runId}/artifacts?${q}`, { token: owner.accessToken });
    const first = await list('limit=2');
    expect(first.json.items.map((a: { path: string }) => a.path)).toEqual(['b.txt', 'model/weights.bin']);
    const rest = await list(`limit=2&cursor=${encodeURIComponent(first.json.nextCursor)}`);
    expect(rest.json.items.map((a: { path: string }) => a.path)).toEqual(['plots/a.png', 'plots/b.png']);
    expect(rest.json.nextCursor).toBeNull();
    const plots = await list('prefix=plots/');
    expect(plots.json.items).toHaveLength(2);
  });

  it('refuses path-like names and bad content types without storing anything', async () => {
    const { runId } = await newRun();
    const bad = [
      '../escape',
      '/etc/passwd',
      'a//b',
      'a/./b',
      'a/../b',
      'a..b',
      'a\\b',
      'trailing/',
      'sp ace',
      '',
      'x'.repeat(513),
    ];
    for (const path of bad) {
      const res = await upload(runId, path, 'x');
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as Envelope).error.code).toBe('validation_failed');
    }
    const noPath = await t.app.request(`/v1/runs/${runId}/artifacts`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${owner.accessToken}` },
      body: 'x',
    });
    expect(noPath.status).toBe(400);
    const badType = await upload(runId, 'ok.txt', 'x', { headers: { 'content-type': 'not a type' } });
    expect(badType.status).toBe(400);
    expect(await objectKeysOf(runId)).toEqual([]);
    const get = await download(runId, '../escape');
    expect(get.status).toBe(400);
  });

  it('answers 413 past the artifact limit, declared or streamed, and keeps nothing', async () => {
    const small = t.anotherInstance({ maxArtifactBytes: 1024 });
    const { runId } = await newRun();
    const before = await artifactBytes();
    const declared = await upload(runId, 'big.bin', new Uint8Array(2048), {
      app: small,
      headers: { 'content-length': '2048' },
    });
    expect(declared.status).toBe(413);
    const chunks = [new Uint8Array(700), new Uint8Array(700)];
    const streamed = await upload(
      runId,
      'big.bin',
      new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      { app: small },
    );
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as Envelope).error).toMatchObject({ code: 'payload_too_large' });
    expect(await objectKeysOf(runId)).toEqual([]);
    expect(await artifactBytes()).toBe(before);
    expect((await upload(runId, 'fits.bin', new Uint8Array(1024), { app: small })).status).toBe(200);
  });

  it('lets viewers read artifacts but not write or delete them', async () => {
    const { runId } = await newRun();
    expect((await upload(runId, 'a.txt', 'x')).status).toBe(200);
    expect((await upload(runId, 'b.txt', 'x', { token: viewer.accessToken })).status).toBe(403);
    const del = await t.client.call('DELETE', `/v1/runs/${runId}/artifacts?path=a.txt`, {
      token: viewer.accessToken,
    });
    expect(del.status).toBe(403);
    expect((await download(runId, 'a.txt', viewer.accessToken)).status).toBe(200);
  });

  it('gives back the bytes and objects of a deleted run and a deleted experiment', async () => {
    const before = await artifactBytes();
    const one = await newRun();
    const two = await newRun();
    await upload(one.runId, 'x.bin', new Uint8Array(100));
    await upload(two.runId, 'y.bin', new Uint8Array(300));
    expect(await artifactBytes()).toBe(before + 400);
    const delRun = await t.client.call('DELETE', `/v1/runs/${one.runId}`, { token: owner.accessToken });
    expect(delRun.status).toBe(200);
    expect(await objectKeysOf(one.runId)).toEqual([]);
    expect(await artifactBytes()).toBe(before + 300);
    const delExp = await t.client.call('DELETE', `/v1/experiments/${two.experimentId}`, {
      token: owner.accessToken,
    });
    expect(delExp.status).toBe(200);
    expect(await objectKeysOf(two.runId)).toEqual([]);
    expect(await artifactBytes()).toBe(before);
    expect((await t.client.call('GET', `/v1/runs/${two.runId}`, { token: owner.accessToken })).status).toBe(
      404,
    );
  });
});
