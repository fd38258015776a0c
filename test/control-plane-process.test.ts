import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

const Health = z.object({
  status: z.literal('ok'),
  checks: z.object({ database: z.object({ status: z.string() }) }),
});
const Tokens = z.object({ accessToken: z.string().min(1), refreshToken: z.string().min(1) });
const Registered = Tokens.extend({ user: z.object({ id: z.string(), email: z.string() }) });
const Me = z.object({ type: z.literal('user'), user: z.object({ id: z.string(), email: z.string() }) });
const Jwks = z.object({ keys: z.array(z.object({ kid: z.string() })).min(1) });
const LogLine = z.object({ time: z.string(), level: z.string(), msg: z.string() });

const EMAIL = 'process-test@example.com';
const PASSWORD = 'a passphrase only this test knows 7Qx';

async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, text, json: (): unknown => JSON.parse(text) };
}

function kidOf(jwt: string): string {
  const header = jwt.split('.')[0] ?? '';
  return z.object({ kid: z.string() }).parse(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')))
    .kid;
}

describe('the control plane as a separate process', () => {
  let dataDir = '';
  let first: RunningControlPlane | undefined;
  let second: RunningControlPlane | undefined;
  /** Every credential the test sends or receives; none may reach stdout. */
  const secrets: string[] = [PASSWORD];
  let registered: z.infer<typeof Registered> | undefined;

  const running = (cp: RunningControlPlane | undefined): RunningControlPlane => {
    if (!cp) throw new Error('the control plane is not running; an earlier test failed');
    return cp;
  };
  const session = () => {
    if (!registered) throw new Error('no registered user; the registration test failed');
    return registered;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meridian-cp-process-'));
    first = await startControlPlane({ dataDir });
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers /health with 200 and names the database check', async () => {
    const res = await call(running(first).url, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(Health.parse(res.json()).checks.database.status).toBe('ok');
  });

  it('applies the migrations on boot, so a user can register', async () => {
    const res = await call(running(first).url, 'POST', '/v1/auth/register', {
      body: { email: EMAIL, password: PASSWORD, name: 'Process Test' },
    });
    expect(res.status, res.text).toBe(201);
    registered = Registered.parse(res.json());
    secrets.push(registered.accessToken, registered.refreshToken);
    expect(registered.user.email).toBe(EMAIL);
  });

  it('keeps its database in a libsql file under the data dir', () => {
    const file = join(dataDir, 'control-plane.db');
    expect(statSync(file).isFile()).toBe(true);
    expect(readFileSync(file).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
  });

  it('creates the edge service token file readable by its owner only', () => {
    const file = join(dataDir, 'edge-service-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    secrets.push(token);
  });

  it('exits with code 0 on SIGTERM', async () => {
    const cp = running(first);
    await cp.stop();
    await expect(cp.exited).resolves.toEqual({ code: 0, signal: null });
  });

  it('keeps the user and the signing key across a restart on the same data dir', async () => {
    const before = session();
    const tokenBefore = readFileSync(join(dataDir, 'edge-service-token'), 'utf8');
    // Same port as before: with no MERIDIAN_PUBLIC_URL the token issuer is http://127.0.0.1:<port>.
    second = await startControlPlane({ dataDir, port: running(first).port });
    const base = second.url;

    const jwks = Jwks.parse((await call(base, 'GET', '/.well-known/jwks.json')).json());
    expect(jwks.keys.map((k) => k.kid)).toEqual([kidOf(before.accessToken)]);

    const me = await call(base, 'GET', '/v1/auth/me', { token: before.accessToken });
    expect(me.status, me.text).toBe(200);
    expect(Me.parse(me.json()).user.id).toBe(before.user.id);

    const login = await call(base, 'POST', '/v1/auth/login', { body: { email: EMAIL, password: PASSWORD } });
    expect(login.status, login.text).toBe(200);
    const fresh = Tokens.parse(login.json());
    secrets.push(fresh.accessToken, fresh.refreshToken);
    expect(kidOf(fresh.accessToken)).toBe(kidOf(before.accessToken));

    const refreshed = await call(base, 'POST', '/v1/auth/refresh', {
      body: { refreshToken: before.refreshToken },
    });
    expect(refreshed.status, refreshed.text).toBe(200);
    const rotated = Tokens.parse(refreshed.json());
    secrets.push(rotated.accessToken, rotated.refreshToken);

    expect(readFileSync(join(dataDir, 'edge-service-token'), 'utf8')).toBe(tokenBefore);
  });

  it('writes JSON lines to stdout that hold neither the password nor any token', async () => {
    const cp = running(second);
    await cp.stop();
    await expect(cp.exited).resolves.toEqual({ code: 0, signal: null });

    const stdout = running(first).stdout() + cp.stdout();
    const lines = stdout.split('\n').filter((line) => line.length > 0);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(() => LogLine.parse(JSON.parse(line)), line).not.toThrow();
    expect(lines.some((line) => line.includes('"path":"/v1/auth/login"'))).toBe(true);
    expect(secrets.length).toBe(8);
    for (const secret of secrets) expect(stdout.includes(secret), 'a secret reached stdout').toBe(false);
  });
});
