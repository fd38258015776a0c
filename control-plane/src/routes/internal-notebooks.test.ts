import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { notebooks } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('notebook proxy targets for the edge', () => {
  let t: TestApp;
  let owner: Session;
  let notebook: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const created = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'explore', gpuType: 't4' },
    });
    if (created.status !== 201) throw new Error(`create failed: ${created.text}`);
    notebook = created.json;
  });
  afterAll(() => t.cleanup());

  const target = (id: string) =>
    t.client.call('GET', `/internal/v1/notebooks/${id}`, { token: t.edgeServiceToken });

  it('names the notebook, the org, the owner and the server token, with no endpoint before it runs', async () => {
    const res = await target(notebook.id);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      notebookId: notebook.id,
      name: 'explore',
      orgId: owner.orgId,
      ownerId: owner.userId,
      status: 'pending',
      endpoint: null,
      token: notebook.token,
    });
  });

  it('gives the endpoint the agent reported once the notebook runs', async () => {
    // The scheduler writes status and endpoint from the agent's report; no scheduler runs in this app.
    const endpoint = `http://10.0.0.5:9090/notebooks/${notebook.id}/`;
    await t.db.update(notebooks).set({ status: 'running', endpoint }).where(eq(notebooks.id, notebook.id));
    expect((await target(notebook.id)).json).toMatchObject({ status: 'running', endpoint });
  });

  it('answers 404 in the envelope for a notebook that does not exist, or no longer does', async () => {
    const gone = await t.client.call('POST', '/v1/notebooks', {
      token: owner.accessToken,
      body: { name: 'short-lived', gpuType: 'cpu' },
    });
    await t.client.call('DELETE', `/v1/notebooks/${gone.json.id}`, { token: owner.accessToken });
    for (const id of ['nb_00000000000000000000000000', gone.json.id, 'anything']) {
      const res = await target(id);
      expect(res.status, id).toBe(404);
      expect(res.json).toEqual({
        error: { code: 'not_found', message: 'Notebook not found', requestId: expect.any(String) },
      });
    }
  });

  it('refuses anyone without the edge token, the notebook’s owner included', async () => {
    for (const token of [undefined, 'wrong', t.operatorToken, owner.accessToken, notebook.token]) {
      const res = await t.client.call('GET', `/internal/v1/notebooks/${notebook.id}`, token ? { token } : {});
      expect(res.status, String(token)).toBe(401);
      expect(res.json.error).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
      expect(res.text).not.toContain(notebook.token);
    }
  });
});
