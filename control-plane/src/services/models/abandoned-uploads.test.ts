import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, storedKeys, uploadVersion } from '../../../testing/models.js';
import { createTestApp, type Session } from '../../../testing/test-app.js';
import { modelVersions } from '../../db/schema.js';
import { createLogger } from '../../lib/logger.js';
import { FsObjectStore } from '../../storage/fs-store.js';
import { ABANDONED_UPLOAD_AGE_MS, sweepAbandonedUploads } from './abandoned-uploads.js';

describe('abandoned model uploads', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let owner: Session;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
  const deps = () => ({ db: t.db, store: t.objectStore, logger: createLogger('error', () => {}) });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  /** Starts a multipart upload of `net.pt` and stores its first part, as a client that then went away. */
  async function startAndLeave(modelId: string) {
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 20,
      partCount: 2,
    });
    expect(started.status, started.text).toBe(201);
    const [row] = await t.db
      .select()
      .from(modelVersions)
      .where(eq(modelVersions.id, started.json.version.id));
    if (!row?.uploadId || !(t.objectStore instanceof FsObjectStore)) throw new Error('no open upload');
    await t.objectStore.writeUploadPart(
      row.objectKey,
      row.uploadId,
      1,
      Readable.from([Buffer.alloc(10)]),
      100,
    );
    return row;
  }

  it('removes a version left uploading for a week, its stored parts with it, and nothing else', async () => {
    const modelId = await newModel(t.app, owner.accessToken);
    expect((await uploadVersion(t.app, owner.accessToken, modelId, 'a.pt', 'weights')).status).toBe(201);
    const old = await startAndLeave(modelId);
    const recent = await startAndLeave(modelId);
    const now = new Date();
    await t.db
      .update(modelVersions)
      .set({ createdAt: new Date(now.getTime() - ABANDONED_UPLOAD_AGE_MS - 1000) })
      .where(eq(modelVersions.id, old.id));

    expect(await sweepAbandonedUploads(deps(), now)).toBe(1);

    const listed = await call('GET', `/v1/models/${modelId}/versions`);
    expect(listed.json.items.map((v: { version: number; status: string }) => [v.version, v.status])).toEqual([
      [3, 'uploading'],
      [1, 'ready'],
    ]);
    // The abandoned upload's part is gone from storage; the recent one can still be resumed.
    await expect(t.objectStore.listUploadParts(old.objectKey, old.uploadId ?? '')).rejects.toThrow();
    const resumed = await call('GET', `/v1/models/${modelId}/versions/${recent.version}/parts?partCount=2`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.json.stored).toHaveLength(1);
    expect(await storedKeys(t.objectStore, `orgs/${owner.orgId}/models/${modelId}/`)).toHaveLength(1);
    expect(await sweepAbandonedUploads(deps(), now)).toBe(0);
  });
});
