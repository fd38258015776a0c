import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/**
 * The control plane's data dir as `npm start` leaves it: private to its user, with the token signing key
 * sealed in the database by a key that lives in a 0600 file beside it, never in it.
 */
describe('the control plane data dir at rest', () => {
  let dataDir = '';
  let cp: RunningControlPlane | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meridian-data-dir-'));
    // As an older version left it: a world-readable dir and files.
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'operator-token'), 'x'.repeat(43), { mode: 0o644 });
    mkdirSync(join(dataDir, 'objects'), { mode: 0o755 });
    cp = await startControlPlane({ dataDir });
    const res = await fetch(`${cp.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'at-rest@example.com',
        password: 'a passphrase for at rest 42',
        name: 'R',
      }),
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await cp?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes the data dir 0700 and every file in it 0600, those it found included', () => {
    expect(mode(dataDir)).toBe(0o700);
    const entries = readdirSync(dataDir);
    expect(entries).toEqual(
      expect.arrayContaining(['control-plane.db', 'operator-token', 'secrets', 'objects']),
    );
    for (const name of entries) {
      const path = join(dataDir, name);
      expect(mode(path), name).toBe(statSync(path).isDirectory() ? 0o700 : 0o600);
    }
    expect(mode(join(dataDir, 'secrets', 'signing-key.kek'))).toBe(0o600);
  });

  it('stores the signing key sealed: the database file holds no private JWK', async () => {
    const client = createClient({ url: `file:${join(dataDir, 'control-plane.db')}` });
    try {
      const rows = (await client.execute('SELECT private_jwk FROM signing_keys')).rows;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(String(row.private_jwk)).not.toContain('"d"');
        expect(String(row.private_jwk)).toMatch(/^(kek1:|retired$)/);
      }
    } finally {
      client.close();
    }
    // Nor does any page of the file (WAL included) carry the JWK's private member.
    const raw = execFileSync(
      'cat',
      readdirSync(dataDir).filter((n) => n.startsWith('control-plane.db')),
      {
        cwd: dataDir,
      },
    );
    expect(raw.includes('"d":"')).toBe(false);
  });
});
