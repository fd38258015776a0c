import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const COOKIE_MODE = { 'x-meridian-refresh': 'cookie' };

/** The meridian_refresh cookie's value and attributes from a Set-Cookie header. */
function refreshCookie(setCookie: string | null) {
  const match = /meridian_refresh=([^;]*)/.exec(setCookie ?? '');
  return { value: match?.[1] ?? '', attributes: (setCookie ?? '').toLowerCase() };
}

describe('cookie mode of the auth routes (the dashboard)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('sets the refresh token as an HttpOnly, SameSite=Strict cookie on /v1/auth and leaves the body empty of it', async () => {
    const res = await t.client.call('POST', '/v1/auth/register', {
      headers: COOKIE_MODE,
      body: { email: 'cookie@example.com', password: 'correct horse battery', name: 'C' },
    });
    expect(res.status).toBe(201);
    expect(res.json.refreshToken).toBe('');
    expect(res.json.accessToken).toMatch(/\./);
    const cookie = refreshCookie(res.headers.get('set-cookie'));
    expect(cookie.value.length).toBeGreaterThan(20);
    expect(cookie.attributes).toContain('httponly');
    expect(cookie.attributes).toContain('samesite=strict');
    expect(cookie.attributes).toContain('path=/v1/auth');
  });

  it('refreshes from the cookie, rotating it, and refuses the spent one', async () => {
    const login = await t.client.call('POST', '/v1/auth/login', {
      headers: COOKIE_MODE,
      body: { email: 'cookie@example.com', password: 'correct horse battery' },
    });
    const first = refreshCookie(login.headers.get('set-cookie')).value;
    const refreshed = await t.client.call('POST', '/v1/auth/refresh', {
      headers: { ...COOKIE_MODE, cookie: `meridian_refresh=${first}` },
      body: {},
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshToken).toBe('');
    const second = refreshCookie(refreshed.headers.get('set-cookie')).value;
    expect(second).not.toBe(first);
    const me = await t.client.call('GET', '/v1/auth/me', { token: refreshed.json.accessToken });
    expect(me.status).toBe(200);
    const reused = await t.client.call('POST', '/v1/auth/refresh', {
      headers: { ...COOKIE_MODE, cookie: `meridian_refresh=${first}` },
      body: {},
    });
    expect(reused.status).toBe(401);
  });

  it('ignores the cookie without the opt-in header, so a cross-site form cannot use it', async () => {
    const login = await t.client.call('POST', '/v1/auth/login', {
      headers: COOKIE_MODE,
      body: { email: 'cookie@example.com', password: 'correct horse battery' },
    });
    const value = refreshCookie(login.headers.get('set-cookie')).value;
    const res = await t.client.call('POST', '/v1/auth/refresh', {
      headers: { cookie: `meridian_refresh=${value}` },
      body: {},
    });
    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/No refresh token/);
  });

  it('still answers body-based refresh (SDK, CLI) with the token in the body and no cookie', async () => {
    const session = await t.client.register('body');
    const res = await t.client.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: session.refreshToken },
    });
    expect(res.status).toBe(200);
    expect(res.json.refreshToken.length).toBeGreaterThan(20);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('logs out from the cookie and clears it', async () => {
    const login = await t.client.call('POST', '/v1/auth/login', {
      headers: COOKIE_MODE,
      body: { email: 'cookie@example.com', password: 'correct horse battery' },
    });
    const value = refreshCookie(login.headers.get('set-cookie')).value;
    const out = await t.client.call('POST', '/v1/auth/logout', {
      headers: { ...COOKIE_MODE, cookie: `meridian_refresh=${value}` },
      body: {},
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/meridian_refresh=;.*Max-Age=0/i);
    const me = await t.client.call('GET', '/v1/auth/me', { token: login.json.accessToken });
    expect(me.status).toBe(401);
  });
});
