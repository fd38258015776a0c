import { base64url, SignJWT } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer, whoAmI, whoAmIApp } from './helpers/auth-app.js';
import { CONTROL_PLANE_URL, testEnv } from './helpers/auth-env.js';
import { FakeControlPlane, uniqueId } from './helpers/auth-fake-control-plane.js';
import { newSigner, signAccessToken, type TestSigner } from './helpers/auth-tokens.js';

// Access tokens are verified inside workerd with jose against the JWKS the fake control plane serves.

const app = whoAmIApp();
let signer: TestSigner;
let cp: FakeControlPlane;

beforeAll(async () => {
  signer = await newSigner();
});

beforeEach(() => {
  cp = new FakeControlPlane().install();
  cp.jwks = { keys: [signer.jwk] };
});

afterEach(() => {
  vi.unstubAllGlobals();
});

/** A token of a live session, as the control plane issues at login. */
async function userToken(orgId = uniqueId('org'), userId = uniqueId('usr')) {
  const sessionId = cp.addSession(userId, orgId);
  return { orgId, userId, sessionId, token: await signAccessToken(signer, { userId, orgId, sessionId }) };
}

describe('user access tokens', () => {
  it('accepts a valid token in the Authorization header as a user caller who may predict', async () => {
    const { orgId, userId, token } = await userToken();

    const res = await whoAmI(app, testEnv(), { headers: bearer(token) });

    expect(res.status).toBe(200);
    expect(res.caller).toMatchObject({
      kind: 'user',
      orgId,
      userId,
      keyId: null,
      scopes: ['predict'],
      rateLimits: [],
      org: { orgId, suspended: false },
    });
  });

  it('accepts the token from the meridian_token cookie and the access_token query parameter where only users are (the notebook proxy)', async () => {
    const { userId, token } = await userToken();
    const browserApp = whoAmIApp({ allow: ['user'] });

    const fromCookie = await whoAmI(browserApp, testEnv(), {
      headers: { cookie: `other=1; meridian_token=${token}` },
    });
    const fromQuery = await whoAmI(browserApp, testEnv(), { query: `?access_token=${token}` });

    expect(fromCookie.caller?.userId).toBe(userId);
    expect(fromQuery.caller?.userId).toBe(userId);
  });

  it('takes a user token only from Authorization where API keys are accepted too (prediction routes)', async () => {
    const { token } = await userToken();

    const fromCookie = await whoAmI(app, testEnv(), { headers: { cookie: `meridian_token=${token}` } });
    const fromQuery = await whoAmI(app, testEnv(), { query: `?access_token=${token}` });

    expect([fromCookie.status, fromQuery.status]).toEqual([401, 401]);
    expect(fromCookie.body).toMatchObject({
      error: { code: 'unauthenticated', message: expect.stringContaining('Authorization') },
    });
  });

  it('accepts an issuer configured with a trailing slash', async () => {
    const { token } = await userToken();

    const res = await whoAmI(app, testEnv({ CONTROL_PLANE_URL: `${CONTROL_PLANE_URL}/` }), {
      headers: bearer(token),
    });

    expect(res.status).toBe(200);
  });

  it('fetches the key set once per isolate, not per request', async () => {
    const url = `http://${uniqueId('cp')}.test`;
    const orgId = uniqueId('org');
    const sessionId = cp.addSession('usr_1', orgId);
    const token = await signAccessToken(signer, { userId: 'usr_1', orgId, sessionId }, { issuer: url });

    for (let i = 0; i < 5; i++) {
      expect(
        (await whoAmI(app, testEnv({ CONTROL_PLANE_URL: url }), { headers: bearer(token) })).status,
      ).toBe(200);
    }
    expect(cp.count('GET /.well-known/jwks.json')).toBe(1);
  });

  it('answers 402 when the user’s org is suspended', async () => {
    const orgId = uniqueId('org');
    cp.addOrg(orgId, { suspended: true, suspendedReason: 'card declined' });
    const { token } = await userToken(orgId);

    const res = await whoAmI(app, testEnv(), { headers: bearer(token) });

    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({
      error: { code: 'payment_required', message: expect.stringContaining('card declined') },
    });
  });
});

describe('rejected user tokens', () => {
  const orgId = 'org_rejections';
  const claims = { userId: 'usr_1', orgId };

  beforeEach(() => {
    cp.addOrg(orgId);
  });

  it.each([
    ['an expired token', () => signAccessToken(signer, claims, { expiresInSeconds: -60 })],
    ['another issuer', () => signAccessToken(signer, claims, { issuer: 'https://evil.test' })],
    ['another audience', () => signAccessToken(signer, claims, { audience: 'someone-else' })],
    ['a key the control plane never published', async () => signAccessToken(await newSigner(), claims)],
    [
      'a key published under another key’s kid',
      async () => signAccessToken(await newSigner(signer.kid), claims),
    ],
    [
      'an HMAC token (algorithm confusion)',
      () =>
        new SignJWT({ org: orgId })
          .setProtectedHeader({ alg: 'HS256', kid: signer.kid })
          .setSubject('usr_1')
          .setIssuer(CONTROL_PLANE_URL)
          .setAudience('meridian')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('x'.repeat(32))),
    ],
    [
      'an unsigned token (alg none)',
      async () => {
        const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
        const exp = Math.floor(Date.now() / 1000) + 300;
        const payload = base64url.encode(
          JSON.stringify({ sub: 'usr_1', org: orgId, iss: CONTROL_PLANE_URL, aud: 'meridian', exp }),
        );
        return `${header}.${payload}.`;
      },
    ],
    ['garbage', async () => 'not-a-jwt'],
  ])('answers 401 for %s', async (_, makeToken) => {
    const res = await whoAmI(app, testEnv(), { headers: bearer(await makeToken()) });

    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="meridian"');
  });

  it('answers 503 when the key set cannot be fetched', async () => {
    const url = `http://${uniqueId('cp')}.test`;
    const token = await signAccessToken(signer, claims, { issuer: url });
    cp.down = true;

    const res = await whoAmI(app, testEnv({ CONTROL_PLANE_URL: url }), { headers: bearer(token) });

    expect(res.status).toBe(503);
  });
});

describe('sessions that end', () => {
  // Revocation bound while the control plane is reachable: KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS.
  const fast = () => testEnv({ KEY_CACHE_SECONDS: '1', KEY_KV_FRESH_SECONDS: '1' });

  it('refuses a logged-out session’s token within the revocation bound, learnt without a call per request', async () => {
    const { sessionId, token } = await userToken();
    const env = fast();
    for (let i = 0; i < 20; i++)
      expect((await whoAmI(app, env, { headers: bearer(token) })).status).toBe(200);
    // Warm: twenty calls, one session lookup on the control plane.
    expect(cp.requests.filter((r) => r === `GET /internal/v1/sessions/${sessionId}`)).toHaveLength(1);

    cp.revokeSession(sessionId);
    const revokedAt = Date.now();
    let res = await whoAmI(app, env, { headers: bearer(token) });
    while (res.status === 200 && Date.now() - revokedAt < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await whoAmI(app, env, { headers: bearer(token) });
    }

    expect(res.status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(2_000 + 500);
    expect(res.body).toMatchObject({
      error: { code: 'unauthenticated', message: expect.stringContaining('ended') },
    });
  });

  it('ends a notebook’s browser session (its cookie) with the login it came from', async () => {
    const { sessionId, token } = await userToken();
    const notebookProxy = whoAmIApp({ allow: ['user'] });
    const cookie = { cookie: `meridian_token=${token}` };
    expect((await whoAmI(notebookProxy, fast(), { headers: cookie })).status).toBe(200);

    cp.revokeSession(sessionId);
    await new Promise((resolve) => setTimeout(resolve, 2_100));

    expect((await whoAmI(notebookProxy, fast(), { headers: cookie })).status).toBe(401);
  });

  it('refuses a token whose session the control plane never issued, or issued to someone else', async () => {
    const orgId = uniqueId('org');
    const userId = uniqueId('usr');
    const otherSession = cp.addSession(uniqueId('usr'), orgId);
    const unknown = await signAccessToken(signer, { userId, orgId, sessionId: uniqueId('rtf') });
    const borrowed = await signAccessToken(signer, { userId, orgId, sessionId: otherSession });

    expect((await whoAmI(app, testEnv(), { headers: bearer(unknown) })).status).toBe(401);
    expect((await whoAmI(app, testEnv(), { headers: bearer(borrowed) })).status).toBe(401);
  });

  it('refuses a token that carries no session id', async () => {
    const orgId = uniqueId('org');
    cp.addOrg(orgId);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ org: orgId })
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid })
      .setSubject('usr_nosid')
      .setIssuer(CONTROL_PLANE_URL)
      .setAudience('meridian')
      .setExpirationTime(now + 300)
      .sign(signer.privateKey);

    expect((await whoAmI(app, testEnv(), { headers: bearer(token) })).status).toBe(401);
  });

  it('keeps serving a known session while the control plane is down (static stability)', async () => {
    const { token } = await userToken();
    const env = fast();
    expect((await whoAmI(app, env, { headers: bearer(token) })).status).toBe(200);
    cp.down = true;
    await new Promise((resolve) => setTimeout(resolve, 2_100));

    expect((await whoAmI(app, env, { headers: bearer(token) })).status).toBe(200);
  });
});

describe('where credentials are accepted', () => {
  it('answers 401 with a Bearer challenge when there is no credential', async () => {
    const res = await whoAmI(app, testEnv());

    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'unauthenticated', requestId: 'test-request' } });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="meridian"');
  });

  it('answers 401 for an Authorization header that is not Bearer', async () => {
    expect((await whoAmI(app, testEnv(), { headers: { authorization: 'Basic dXNlcjpwYXNz' } })).status).toBe(
      401,
    );
  });

  it('never takes an API key from a cookie or the query string', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });

    const fromCookie = await whoAmI(app, testEnv(), { headers: { cookie: `meridian_token=${key}` } });
    const fromQuery = await whoAmI(app, testEnv(), { query: `?access_token=${key}` });

    expect([fromCookie.status, fromQuery.status]).toEqual([401, 401]);
    expect(cp.count('POST /internal/v1/api-keys/resolve')).toBe(0);
  });

  it('refuses an API key where only users are allowed, and a user token where only keys are', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    const { token } = await userToken();

    const keyOnUserRoute = await whoAmI(whoAmIApp({ allow: ['user'] }), testEnv(), { headers: bearer(key) });
    const userOnKeyRoute = await whoAmI(whoAmIApp({ allow: ['api_key'] }), testEnv(), {
      headers: bearer(token),
    });

    expect(keyOnUserRoute.body).toMatchObject({
      error: { code: 'unauthenticated', message: 'API keys are not accepted here' },
    });
    expect(userOnKeyRoute.body).toMatchObject({
      error: { code: 'unauthenticated', message: 'User tokens are not accepted here' },
    });
  });
});
