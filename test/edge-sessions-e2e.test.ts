import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

/**
 * A user's access token after logout, against the real control plane and the edge in workerd: refused by
 * the control plane at once and by the edge within its revocation bound (KEY_CACHE_SECONDS +
 * KEY_KV_FRESH_SECONDS, set to 1 + 1 s here; 10 + 20 s by default).
 */
describe('a logged-out session across the control plane and the edge', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let edge: RunningEdge | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-sessions-'));
    const start = () => startControlPlane({ dataDir: join(dir, 'cp'), env: { MERIDIAN_LOG_LEVEL: 'warn' } });
    cp = await start().catch(start);
    const cpUrl = cp.url;
    const startEdge = async () =>
      startEdgeProcess({
        MERIDIAN_DATA_DIR: join(dir, 'cp'),
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(await freePort()),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cpUrl,
        MERIDIAN_EDGE_VAR_KEY_CACHE_SECONDS: '1',
        MERIDIAN_EDGE_VAR_KEY_KV_FRESH_SECONDS: '1',
      });
    edge = await startEdge().catch(startEdge);
  }, 180_000);

  afterAll(async () => {
    await edge?.stop();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 401 at the control plane at once and at the edge within the bound', async () => {
    const cpUrl = cp?.url ?? '';
    const edgeUrl = edge?.url ?? '';
    const registered = await fetch(`${cpUrl}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'session-e2e@example.com',
        password: 'a passphrase for sessions 9',
        name: 'S',
      }),
    });
    expect(registered.status).toBe(201);
    const { accessToken, refreshToken } = (await registered.json()) as {
      accessToken: string;
      refreshToken: string;
    };
    const bearer = { authorization: `Bearer ${accessToken}` };
    const atEdge = async () =>
      (await edgeFetch(`${edgeUrl}/v2/models/none/ready`, { headers: bearer })).status;
    // Authenticated: the edge looks the deployment up and finds none.
    expect(await atEdge()).toBe(404);
    // The same token in a cookie or the query string is not a credential on a prediction route.
    const cookie = await edgeFetch(`${edgeUrl}/v2/models/none/ready`, {
      headers: { cookie: `meridian_token=${accessToken}` },
    });
    expect(cookie.status).toBe(401);
    expect((await edgeFetch(`${edgeUrl}/v2/models/none/ready?access_token=${accessToken}`)).status).toBe(401);

    const out = await fetch(`${cpUrl}/v1/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken }),
    });
    expect(out.status).toBe(204);
    const loggedOutAt = Date.now();
    expect((await fetch(`${cpUrl}/v1/auth/me`, { headers: bearer })).status).toBe(401);

    let status = await atEdge();
    while (status !== 401 && Date.now() - loggedOutAt < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await atEdge();
    }
    expect(status).toBe(401);
    expect(Date.now() - loggedOutAt).toBeLessThanOrEqual(2_000 + 1_000);
  });
});
