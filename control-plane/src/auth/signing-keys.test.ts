import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/client.js';
import { AccessTokens } from './access-tokens.js';
import { KeySealer } from './key-sealing.js';
import { SigningKeyStore } from './signing-keys.js';

const TTL_MS = 15 * 60_000;
const sealer = new KeySealer(randomBytes(32));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function store(clock: { now: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-keys-'));
  const { db, close } = await openDatabase(`file:${join(dir, 'k.db')}`);
  cleanups.push(() => {
    close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, keys: new SigningKeyStore(db, TTL_MS, { sealer, now: () => clock.now }) };
}

describe('SigningKeyStore', () => {
  it('creates one signing key on first start and reuses it on the next', async () => {
    const clock = { now: Date.now() };
    const { db, keys } = await store(clock);
    await keys.init();
    const first = keys.signer().kid;
    const again = new SigningKeyStore(db, TTL_MS, { sealer, now: () => clock.now });
    await again.init();
    expect(again.signer().kid).toBe(first);
    expect(again.jwks().keys).toHaveLength(1);
  });

  it('stops publishing a retired key once every token it signed has expired', async () => {
    const clock = { now: Date.now() };
    const { keys } = await store(clock);
    await keys.init();
    const oldKid = keys.signer().kid;
    await keys.rotate();
    expect(keys.jwks().keys.map((k) => k.kid)).toContain(oldKid);
    expect(await keys.publicKey(oldKid)).toBeDefined();

    clock.now += TTL_MS + 61_000;
    expect(keys.jwks().keys.map((k) => k.kid)).not.toContain(oldKid);
    expect(await keys.publicKey(oldKid)).toBeUndefined();
  });

  it('verifies a token signed on another instance after that instance rotated', async () => {
    const clock = { now: Date.now() };
    const { db, keys } = await store(clock);
    await keys.init();
    const other = new SigningKeyStore(db, TTL_MS, { sealer, now: () => clock.now });
    await other.init();
    await other.rotate();
    const token = await new AccessTokens(other, 'iss', 60).sign({ userId: 'u', orgId: 'o', sessionId: 's' });
    clock.now += 1_500; // past the reload throttle
    const claims = await new AccessTokens(keys, 'iss', 60).verify(token);
    expect(claims).toEqual({ userId: 'u', orgId: 'o', sessionId: 's' });
  });
});
