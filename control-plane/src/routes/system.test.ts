import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('health, metrics, request ids and logs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('reports health with the database check', async () => {
    const res = await t.client.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', checks: { database: { status: 'ok' } } });
  });

  it('counts requests by matched route and status, never by raw path', async () => {
    const s = await t.client.register('metered');
    await t.client.call('GET', '/v1/auth/me', { token: s.accessToken });
    await t.client.call('GET', '/v1/api-keys/key_00000000000000000000000000', { token: s.accessToken });
    await t.client.call('GET', '/no/such/path');
    const res = await t.client.call('GET', '/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toMatch(
      /meridian_cp_http_requests_total\{method="GET",route="\/v1\/auth\/me",status="200"\} 1/,
    );
    expect(res.text).toContain('route="/v1/api-keys/:id",status="404"');
    expect(res.text).toContain('route="unmatched",status="404"');
    expect(res.text).not.toContain('key_00000000000000000000000000');
    expect(res.text).toMatch(
      /meridian_cp_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/auth\/me"/,
    );
  });

  it('keeps a well-formed X-Request-Id and replaces a malformed one', async () => {
    const kept = await t.client.call('GET', '/nope', { headers: { 'x-request-id': 'trace-abc.1' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc.1');
    expect(kept.json.error.requestId).toBe('trace-abc.1');
    const replaced = await t.client.call('GET', '/nope', { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('writes JSON log lines that never contain passwords, tokens or key secrets', async () => {
    t.logLines.length = 0;
    const password = 'a very secret passphrase';
    const reg = await t.client.call('POST', '/v1/auth/register', {
      body: { email: 'logged@example.com', password, name: 'Logged' },
    });
    await t.client.call('POST', '/v1/auth/login', { body: { email: 'logged@example.com', password } });
    await t.client.call('POST', '/v1/auth/login', {
      body: { email: 'logged@example.com', password: `${password}x` },
    });
    const key = await t.client.call('POST', '/v1/api-keys', {
      token: reg.json.accessToken,
      body: { name: 'k', scopes: ['admin'] },
    });
    await t.client.call('GET', '/v1/auth/me?token=abc', { token: key.json.secret });
    await t.client.call('POST', '/v1/auth/refresh', { body: { refreshToken: reg.json.refreshToken } });

    expect(t.logLines.length).toBeGreaterThanOrEqual(6);
    for (const line of t.logLines) expect(() => JSON.parse(line)).not.toThrow();
    const all = t.logLines.join('\n');
    for (const secret of [password, reg.json.accessToken, reg.json.refreshToken, key.json.secret]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain('"path":"/v1/auth/me"');
  });
});
