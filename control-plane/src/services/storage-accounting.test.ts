import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { addStoredBytes, getStoredBytes } from './storage-accounting.js';

describe('storage accounting', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('counts model and artifact bytes apart, adds them up, and never goes below zero', async () => {
    expect(await getStoredBytes(t.db, owner.orgId)).toEqual({
      modelBytes: 0,
      artifactBytes: 0,
      totalBytes: 0,
    });
    await t.db.transaction(async (tx) => {
      await addStoredBytes(tx, owner.orgId, 'model', 1000);
      await addStoredBytes(tx, owner.orgId, 'artifact', 50);
      await addStoredBytes(tx, owner.orgId, 'model', -400);
    });
    expect(await getStoredBytes(t.db, owner.orgId)).toEqual({
      modelBytes: 600,
      artifactBytes: 50,
      totalBytes: 650,
    });
    await t.db.transaction((tx) => addStoredBytes(tx, owner.orgId, 'artifact', -80));
    expect(await getStoredBytes(t.db, owner.orgId)).toEqual({
      modelBytes: 600,
      artifactBytes: 0,
      totalBytes: 600,
    });
  });

  it('rolls back with the transaction it ran in', async () => {
    const other = await t.client.register('other');
    await expect(
      t.db.transaction(async (tx) => {
        await addStoredBytes(tx, other.orgId, 'model', 123);
        throw new Error('the upload failed');
      }),
    ).rejects.toThrow('the upload failed');
    expect((await getStoredBytes(t.db, other.orgId)).modelBytes).toBe(0);
  });
});
