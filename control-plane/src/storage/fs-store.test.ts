import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';
import type { AppEnv } from '../http/context.js';
import { onError } from '../http/errors.js';
import { createLogger } from '../lib/logger.js';
import { storageRoutes } from '../routes/storage.js';
import { describeObjectStoreContract } from './contract.js';
import { FsObjectStore, signStorageAction, verifyStorageSignature } from './fs-store.js';
import { objectKeys } from './object-store.js';

/** The whole control plane on 127.0.0.1 and a free port, so signed URLs are fetched over real HTTP. */
async function serveTestApp() {
  let handler: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const server = serve({ fetch: (request) => handler(request), hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const testApp = await createTestApp({ storagePublicUrl: `http://127.0.0.1:${port}` });
  handler = (request) => testApp.app.fetch(request);
  const close = async () => {
    server.close();
    testApp.cleanup();
  };
  return { ...testApp, baseUrl: `http://127.0.0.1:${port}`, close };
}

describeObjectStoreContract('FsObjectStore behind the control plane', async () => {
  const served = await serveTestApp();
  return { store: served.objectStore, close: served.close };
});

/** Every path under `dir`, dot-files included. */
const tree = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' });

describe('FsObjectStore', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-fs-store-'));
    store = new FsObjectStore(dir, { publicUrl: 'http://127.0.0.1:1/', signingSecret: 's'.repeat(32) });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['../x', '/abs', 'a/../../x', 'a//b', '.hidden', 'a/./b', 'a\\b', 'a b', ''])(
    'refuses the key %j before touching the disk',
    async (key) => {
      await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toThrow(/Invalid object key/);
      await expect(store.get(key)).rejects.toThrow(/Invalid object key/);
      await expect(store.presignGet(key, 60)).rejects.toThrow(/Invalid object key/);
      expect(tree(dir)).toEqual([]);
    },
  );

  it('builds keys only from ids and refuses anything that could climb out of the root', () => {
    expect(objectKeys.modelVersion('org_1', 'mdl_2', 'ver_3')).toBe(
      'orgs/org_1/models/mdl_2/versions/ver_3/model',
    );
    expect(objectKeys.runArtifact('org_1', 'run_2', 'art_3')).toBe('orgs/org_1/runs/run_2/artifacts/art_3');
    expect(() => objectKeys.modelVersion('..', 'mdl_2', 'ver_3')).toThrow(/Not an id/);
    expect(() => objectKeys.runArtifact('org_1', 'a/b', 'art_3')).toThrow(/Not an id/);
    expect(() => objectKeys.runArtifact('org_1', 'run_2', '')).toThrow(/Not an id/);
  });

  it('leaves no temp file behind when a put fails or is aborted', async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(64 * 1024);
        throw new Error('client went away');
      })(),
    );
    await expect(store.put('orgs/o/failed', failing)).rejects.toThrow('client went away');
    const controller = new AbortController();
    const endless = new Readable({ read() {} });
    endless.push(Buffer.alloc(1024));
    const aborted = store.put('orgs/o/aborted', endless, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toThrow(/abort/i);
    expect(tree(dir).filter((path) => !path.match(/^orgs(\/o)?$/))).toEqual([]);
  });

  it('signs an action for one key and expiry only', () => {
    const secret = 'k'.repeat(32);
    const action = { method: 'GET', key: 'orgs/o/x' } as const;
    const signature = signStorageAction(secret, action, 2_000);
    expect(verifyStorageSignature(secret, action, '2000', signature, 1_999)).toBe('ok');
    expect(verifyStorageSignature(secret, action, '2000', signature, 2_001)).toBe('expired');
    expect(verifyStorageSignature(secret, action, '2001', signature, 1_999)).toBe('invalid');
    expect(verifyStorageSignature(secret, { method: 'GET', key: 'orgs/o/y' }, '2000', signature, 1)).toBe(
      'invalid',
    );
    expect(verifyStorageSignature('z'.repeat(32), action, '2000', signature, 1)).toBe('invalid');
    expect(verifyStorageSignature(secret, action, undefined, signature, 1)).toBe('missing');
  });
});

describe('signed storage routes', () => {
  let served: Awaited<ReturnType<typeof serveTestApp>>;
  beforeAll(async () => {
    served = await serveTestApp();
    await served.objectStore.put('orgs/o/models/m/versions/v/model', Readable.from([Buffer.from('weights')]));
  });
  afterAll(() => served.close());

  it('answers 401 with the error envelope when the signature is missing', async () => {
    const url = await served.objectStore.presignGet('orgs/o/models/m/versions/v/model', 60);
    const res = await fetch(url.split('?')[0] ?? '');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it('answers 403 when a URL signed for one object is pointed at another', async () => {
    await served.objectStore.put('orgs/o/secret', Readable.from([Buffer.from('not yours')]));
    const url = new URL(await served.objectStore.presignGet('orgs/o/models/m/versions/v/model', 60));
    url.pathname = `/v1/storage/objects/${Buffer.from('orgs/o/secret').toString('base64url')}`;
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'forbidden', requestId: expect.any(String) } });
  });

  it('answers 404 for a validly signed URL to an object that is gone', async () => {
    const url = await served.objectStore.presignGet('orgs/o/never-written', 60);
    const res = await fetch(url);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('answers 416 for a range past the end', async () => {
    const url = await served.objectStore.presignGet('orgs/o/models/m/versions/v/model', 60);
    const res = await fetch(url, { headers: { range: 'bytes=100-' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */7');
  });

  it('refuses a part PUT signed for another key', async () => {
    const { uploadId } = await served.objectStore.createMultipartUpload('orgs/o/a');
    const [part] = await served.objectStore.presignUploadParts('orgs/o/a', uploadId, 1, 60);
    const url = new URL(part?.url ?? '');
    url.searchParams.set('key', 'orgs/o/b');
    const res = await fetch(url, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(403);
  });

  it('streams a part past its size cap into a 413 and keeps no part', async () => {
    const root = mkdtempSync(join(tmpdir(), 'meridian-parts-'));
    const store = new FsObjectStore(root, { publicUrl: 'http://127.0.0.1:1', signingSecret: 'p'.repeat(32) });
    const app = new Hono<AppEnv>().route('/', storageRoutes({ store, maxPartBytes: 1024 }));
    app.onError(onError(createLogger('silent')));
    const { uploadId } = await store.createMultipartUpload('orgs/o/capped');
    const [part] = await store.presignUploadParts('orgs/o/capped', uploadId, 1, 60);
    const url = new URL(part?.url ?? '');
    // No content-length: the cap has to hold while the body streams in.
    const body = Readable.toWeb(Readable.from([Buffer.alloc(1000), Buffer.alloc(1000)]));
    const res = await app.request(`${url.pathname}${url.search}`, {
      method: 'PUT',
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(tree(join(root, '.uploads', uploadId))).toEqual(['key']);
    rmSync(root, { recursive: true, force: true });
  });
});
