import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';
import { assertImageAllowed, imagePolicyFor, MAX_ORG_IMAGES } from '../services/images/images.js';
import { DEFAULT_NOTEBOOK_IMAGE } from '../services/notebooks/deps.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const LIST = '/v1/allowed-images';
const PLATFORM = '/internal/v1/platform-images';

describe('images agents may run', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('lets operators manage platform images, and nobody else', async () => {
    const add = await t.client.call('POST', PLATFORM, {
      token: t.operatorToken,
      body: { image: 'meridian/model-server:2' },
    });
    expect(add.status).toBe(201);
    expect(add.json.items).toEqual(
      expect.arrayContaining([DEFAULT_NOTEBOOK_IMAGE, 'meridian/model-server:2']),
    );
    const owner = await t.client.register('owner');
    for (const token of [undefined, owner.accessToken, t.edgeServiceToken]) {
      const res = await t.client.call('POST', PLATFORM, {
        ...(token ? { token } : {}),
        body: { image: 'evil:1' },
      });
      expect(res.status).toBe(401);
    }
    const gone = await t.client.call('DELETE', `${PLATFORM}?image=meridian/model-server:2`, {
      token: t.operatorToken,
    });
    expect(gone.status).toBe(204);
    expect((await t.client.call('GET', PLATFORM, { token: t.operatorToken })).json.items).toEqual([
      DEFAULT_NOTEBOOK_IMAGE,
    ]);
  });

  it('lets owners and admins allow images for their org; members and viewers only read the list', async () => {
    const owner = await t.client.register('owner');
    const admin = await t.client.joinOrg(owner, await t.client.register('admin'), 'admin');
    const member = await t.client.joinOrg(owner, await t.client.register('member'), 'member');
    const viewer = await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer');
    const allow = (token: string, image: string) => t.client.call('POST', LIST, { token, body: { image } });

    expect((await allow(owner.accessToken, 'ghcr.io/acme/server')).status).toBe(201);
    expect((await allow(admin.accessToken, 'ghcr.io/acme/lab:1.2')).status).toBe(201);
    expect((await allow(member.accessToken, 'ghcr.io/acme/other:1')).status).toBe(403);
    expect((await allow(viewer.accessToken, 'ghcr.io/acme/other:1')).status).toBe(403);
    const list = await t.client.call('GET', LIST, { token: viewer.accessToken });
    expect(list.status).toBe(200);
    expect(list.json.items.map((i: { image: string }) => i.image)).toEqual([
      'ghcr.io/acme/lab:1.2',
      'ghcr.io/acme/server',
    ]);
    expect(list.json.platform).toContain(DEFAULT_NOTEBOOK_IMAGE);

    // Another org sees none of it, and cannot remove it (404, like anything of another org).
    const stranger = await t.client.register('stranger');
    expect((await t.client.call('GET', LIST, { token: stranger.accessToken })).json.items).toEqual([]);
    const foreign = await t.client.call('DELETE', `${LIST}?image=ghcr.io/acme/server`, {
      token: stranger.accessToken,
    });
    expect(foreign.status).toBe(404);
    expect(await imagePolicyFor(t.db, [owner.orgId, stranger.orgId])).toMatchObject({
      byOrg: { [owner.orgId]: ['ghcr.io/acme/lab:1.2', 'ghcr.io/acme/server'], [stranger.orgId]: [] },
    });

    const removed = await t.client.call('DELETE', `${LIST}?image=ghcr.io/acme/server`, {
      token: admin.accessToken,
    });
    expect(removed.status).toBe(204);
    const audit = await t.client.call('GET', '/v1/audit-log', { token: owner.accessToken });
    expect(audit.json.items.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['image.allow', 'image.disallow']),
    );
  });

  it('checks an image for a creation route by the same rule the agents apply', async () => {
    const owner = await t.client.register('owner');
    await t.client.call('POST', LIST, { token: owner.accessToken, body: { image: 'ghcr.io/acme/server' } });
    await expect(assertImageAllowed(t.db, owner.orgId, 'ghcr.io/acme/server:3')).resolves.toBeUndefined();
    await expect(assertImageAllowed(t.db, owner.orgId, DEFAULT_NOTEBOOK_IMAGE)).resolves.toBeUndefined();
    await expect(assertImageAllowed(t.db, owner.orgId, 'ghcr.io/acme/server-x:3')).rejects.toMatchObject({
      code: 'validation_failed',
      details: [{ path: 'image', message: expect.stringMatching(/allow-list/) }],
    });
    const other = await t.client.register('other');
    await expect(assertImageAllowed(t.db, other.orgId, 'ghcr.io/acme/server:3')).rejects.toThrow(
      /allow-list/,
    );
  });

  it('answers 400 naming the field for a malformed image and 409 past the list size', async () => {
    const owner = await t.client.register('owner');
    for (const image of ['', 'UPPER/case', 'a b', '../etc/passwd', 'x'.repeat(600), 42]) {
      const res = await t.client.call('POST', LIST, { token: owner.accessToken, body: { image } });
      expect(res.status, String(image)).toBe(400);
      expect(JSON.stringify(res.json.error)).toContain('image');
    }
    for (let i = 0; i < MAX_ORG_IMAGES; i++) {
      await t.client.call('POST', LIST, { token: owner.accessToken, body: { image: `r/img:${i}` } });
    }
    const over = await t.client.call('POST', LIST, {
      token: owner.accessToken,
      body: { image: 'r/img:over' },
    });
    expect(over.status).toBe(409);
  }, 60_000);
});
