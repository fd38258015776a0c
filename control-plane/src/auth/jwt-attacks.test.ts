import { base64url, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { AccessTokens } from './access-tokens.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

function decodePart(part: string | undefined): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(part ?? '')));
}
function encodePart(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

describe('access tokens under attack', () => {
  let t: TestApp;
  let ada: Session;
  const me = (token: string) => t.client.call('GET', '/v1/auth/me', { token });

  beforeAll(async () => {
    t = await createTestApp();
    ada = await t.client.register('ada');
  });
  afterAll(() => t.cleanup());

  it('accepts the genuine token', async () => {
    expect((await me(ada.accessToken)).status).toBe(200);
  });

  it('rejects alg "none"', async () => {
    const [header, payload] = ada.accessToken.split('.');
    const forged = `${encodePart({ ...decodePart(header), alg: 'none' })}.${payload}.`;
    const res = await me(forged);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthenticated');
  });

  it('rejects a token signed by another key under our kid', async () => {
    const { kid } = decodePart(ada.accessToken.split('.')[0]);
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ org: ada.orgId, sid: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', kid: String(kid) })
      .setSubject(ada.userId)
      .setIssuer('http://127.0.0.1:8080')
      .setAudience('meridian')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await me(forged)).status).toBe(401);
  });

  it('rejects HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const jwks = await t.client.call('GET', '/.well-known/jwks.json');
    const publicJwk = jwks.json.keys[0];
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const forged = await new SignJWT({ org: ada.orgId, sid: 'x' })
      .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid })
      .setSubject(ada.userId)
      .setIssuer('http://127.0.0.1:8080')
      .setAudience('meridian')
      .setExpirationTime('5m')
      .sign(secret);
    expect((await me(forged)).status).toBe(401);
  });

  it('rejects a tampered payload (another org swapped in)', async () => {
    const eve = await t.client.register('eve');
    const [header, payload, signature] = ada.accessToken.split('.');
    const tampered = `${header}.${encodePart({ ...decodePart(payload), org: eve.orgId })}.${signature}`;
    expect((await me(tampered)).status).toBe(401);
  });

  it('rejects an expired token', async () => {
    const hourAgo = Date.now() - 3_600_000;
    const issuedEarlier = new AccessTokens(t.signingKeys, 'http://127.0.0.1:8080', 900, () => hourAgo);
    const expired = await issuedEarlier.sign({ userId: ada.userId, orgId: ada.orgId, sessionId: 'x' });
    const res = await me(expired);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthenticated');
  });

  it('rejects garbage and oversized bearer values without a 500', async () => {
    for (const token of ['x', 'a.b.c', `${'a'.repeat(5000)}`, 'eyJ.eyJ.', 'mk_live_short']) {
      const res = await me(token);
      expect(res.status).toBe(401);
      expect(res.json.error.requestId).toBe(res.headers.get('x-request-id'));
    }
    expect(
      (await t.client.call('GET', '/v1/auth/me', { headers: { authorization: 'Basic abc' } })).status,
    ).toBe(401);
  });
});

describe('signing key rotation', () => {
  it('keeps earlier tokens valid, signs new ones with the new kid and publishes both', async () => {
    const t = await createTestApp();
    try {
      const before = await t.client.register('rotator');
      const oldKid = decodePart(before.accessToken.split('.')[0]).kid;
      const newKid = await t.signingKeys.rotate();
      expect(newKid).not.toBe(oldKid);

      expect((await t.client.call('GET', '/v1/auth/me', { token: before.accessToken })).status).toBe(200);
      const refreshed = await t.client.call('POST', '/v1/auth/refresh', {
        body: { refreshToken: before.refreshToken },
      });
      expect(refreshed.status).toBe(200);
      expect(decodePart(refreshed.json.accessToken.split('.')[0]).kid).toBe(newKid);

      const jwks = await t.client.call('GET', '/.well-known/jwks.json');
      const kids = jwks.json.keys.map((k: { kid: string }) => k.kid);
      expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
      for (const key of jwks.json.keys) {
        expect(key).not.toHaveProperty('d');
        expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      }
    } finally {
      t.cleanup();
    }
  });
});
