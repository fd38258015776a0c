import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { allowedOrigins } from '../src/cors.js';

// wrangler.toml's DASHBOARD_ORIGINS: the control plane's default origin, as 127.0.0.1 and localhost.
const DASHBOARD = 'http://127.0.0.1:8080';

function preflight(origin: string, path = '/v2/models/m/infer'): Promise<Response> {
  return exports.default.fetch(`https://edge.test${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('CORS for the dashboard', () => {
  // The Worker's first request loads it, which takes seconds on a busy machine.
  beforeAll(() => exports.default.fetch('https://edge.test/health'), 60_000);

  it("answers a configured origin's preflight, allowing Authorization", async () => {
    const res = await preflight(DASHBOARD);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses the preflight of any other origin, without CORS headers', async () => {
    for (const origin of [
      'https://evil.example',
      'http://127.0.0.1:8081',
      'null',
      `${DASHBOARD}.evil.example`,
    ]) {
      const res = await preflight(origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('marks answers (errors included) readable by a configured origin only', async () => {
    const ok = await exports.default.fetch('https://edge.test/v2/models/m/infer', {
      method: 'POST',
      headers: { origin: DASHBOARD, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(401);
    expect(ok.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(ok.headers.get('access-control-expose-headers')).toContain('x-request-id');
    const other = await exports.default.fetch('https://edge.test/health', {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('parses the setting: commas, spaces and trailing slashes; empty means none', () => {
    expect([...allowedOrigins(' https://a.example/ ,https://b.example,, ')]).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
    expect(allowedOrigins(undefined).size).toBe(0);
  });
});
