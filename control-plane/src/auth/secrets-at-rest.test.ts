import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { sql } from 'drizzle-orm';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { signingKeys } from '../db/schema.js';
import { AccessTokens } from './access-tokens.js';
import { KeySealer } from './key-sealing.js';
import { SigningKeyStore } from './signing-keys.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const ISSUER = 'http://127.0.0.1:8080';

/** What an attacker holding a copy of the database file (and perhaps the KEK) reads out of it. */
async function readCopy(path: string) {
  const client = createClient({ url: `file:${path}` });
  try {
    const keys = await client.execute('SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL');
    const session = await client.execute('SELECT id, user_id, org_id FROM sessions LIMIT 1');
    return { keys: keys.rows, session: session.rows[0] };
  } finally {
    client.close();
  }
}

/** The attack: turn the stored private key into an owner token. Undefined when the copy holds no usable key. */
async function forge(copyPath: string, kek?: Buffer): Promise<string | undefined> {
  const { keys, session } = await readCopy(copyPath);
  for (const row of keys) {
    const kid = String(row.kid);
    const stored = String(row.private_jwk);
    let key: CryptoKey;
    try {
      const text = kek ? new KeySealer(kek).open(kid, stored) : stored;
      key = (await importJWK(JSON.parse(text) as JWK, 'EdDSA')) as CryptoKey;
    } catch {
      continue;
    }
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ org: String(session?.org_id), sid: String(session?.id) })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(String(session?.user_id))
      .setIssuer(ISSUER)
      .setAudience('meridian')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(key);
  }
  return undefined;
}

describe('the token signing key at rest', () => {
  let t: TestApp;
  let ada: Session;
  let copy: string;
  beforeAll(async () => {
    t = await createTestApp();
    ada = await t.client.register('ada');
    copy = join(t.dir, 'stolen-copy.db');
    await t.db.run(sql.raw(`VACUUM INTO '${copy}'`));
  });
  afterAll(() => t.cleanup());

  it('is stored sealed: a copy of the database holds no usable private key', async () => {
    const { keys } = await readCopy(copy);
    expect(keys.length).toBeGreaterThan(0);
    for (const row of keys) {
      expect(String(row.private_jwk)).toMatch(/^kek1:/);
      expect(String(row.private_jwk)).not.toContain('"d"');
    }
    expect(await forge(copy)).toBeUndefined();
  });

  it('refuses the best token an attacker with the copy can make (another key under the stored kid)', async () => {
    const { keys, session } = await readCopy(copy);
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ org: ada.orgId, sid: String(session?.id) })
      .setProtectedHeader({ alg: 'EdDSA', kid: String(keys[0]?.kid) })
      .setSubject(ada.userId)
      .setIssuer(ISSUER)
      .setAudience('meridian')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
    expect((await t.client.call('GET', '/v1/auth/me', { token: forged })).status).toBe(401);
  });

  it('would have been enough with the KEK too, which is why the KEK lives outside the database', async () => {
    // The same attack given the key-encryption key succeeds: the refusal above is the sealing's doing.
    const forged = await forge(copy, t.signingKeyKek);
    expect(forged).toBeDefined();
    expect((await t.client.call('GET', '/v1/auth/me', { token: forged })).status).toBe(200);
  });

  it('refuses a genuine-looking token that lives longer than tokens are issued for', async () => {
    const { keys } = await readCopy(copy);
    const kid = String(keys[0]?.kid);
    const jwk = JSON.parse(new KeySealer(t.signingKeyKek).open(kid, String(keys[0]?.private_jwk))) as JWK;
    const tenYears = await new SignJWT({ org: ada.orgId, sid: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(ada.userId)
      .setIssuer(ISSUER)
      .setAudience('meridian')
      .setIssuedAt()
      .setExpirationTime('3650d')
      .sign((await importJWK(jwk, 'EdDSA')) as CryptoKey);
    expect((await t.client.call('GET', '/v1/auth/me', { token: tenYears })).status).toBe(401);
  });
});

describe('sealing on upgrade and KEK rotation', () => {
  it('seals a key stored in plain text by an older version, and its tokens keep verifying', async () => {
    const t = await createTestApp();
    try {
      const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const kid = 'sig_legacy';
      await t.db.update(signingKeys).set({ retiredAt: new Date() });
      await t.db.insert(signingKeys).values({
        kid,
        alg: 'EdDSA',
        publicJwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' }),
        privateJwk: JSON.stringify(await exportJWK(privateKey)),
      });
      const kek = randomBytes(32);
      const store = new SigningKeyStore(t.db, 900_000, { sealer: new KeySealer(kek) });
      await store.init();
      expect(store.signer().kid).toBe(kid);
      const rows = await t.db.select().from(signingKeys);
      for (const row of rows) expect(row.privateJwk.startsWith('{')).toBe(false);
      const tokens = new AccessTokens(store, ISSUER, 900);
      const token = await tokens.sign({ userId: 'usr_1', orgId: 'org_1', sessionId: 's' });
      expect(await tokens.verify(token)).toEqual({ userId: 'usr_1', orgId: 'org_1', sessionId: 's' });

      // KEK rotation: the new KEK current, the old one previous; the row is re-sealed, the signer kept.
      const next = randomBytes(32);
      const rotated = new SigningKeyStore(t.db, 900_000, { sealer: new KeySealer(next, [kek]) });
      await rotated.init();
      expect(rotated.signer().kid).toBe(kid);
      const onlyNew = new SigningKeyStore(t.db, 900_000, { sealer: new KeySealer(next) });
      await onlyNew.init();
      expect(onlyNew.signer().kid).toBe(kid);
      // A store without the KEK cannot sign with the sealed key: it starts a new signer, and old tokens still verify.
      const stranger = new SigningKeyStore(t.db, 900_000, { sealer: new KeySealer(randomBytes(32)) });
      await stranger.init();
      expect(stranger.signer().kid).not.toBe(kid);
      expect(await new AccessTokens(stranger, ISSUER, 900).verify(token)).toBeDefined();
      for (const row of await t.db.select().from(signingKeys)) {
        if (row.retiredAt) expect(row.privateJwk).toBe('retired');
      }
    } finally {
      t.cleanup();
    }
  });
});
