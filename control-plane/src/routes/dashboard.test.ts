import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';
import type { AppEnv } from '../http/context.js';
import { dashboardRoutes } from './dashboard.js';

describe('the dashboard at /', () => {
  let dir = '';
  let app: Hono<AppEnv>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-dist-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Meridian</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    writeFileSync(join(tmpdir(), 'dashboard-secret.txt'), 'secret');
    app = new Hono<AppEnv>().route('/', dashboardRoutes({ dir, edgePublicUrl: 'http://127.0.0.1:8787/' }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves built assets with their content types, hashed ones cached for a year', async () => {
    const js = await app.request('/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const css = await app.request('/assets/index-abc123.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const svg = await app.request('/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.headers.get('cache-control')).toBe('no-cache');
  });

  it("answers index.html, revalidated, for the app's own paths (SPA fallback)", async () => {
    for (const path of ['/', '/models', '/deployments/dep_123', '/keys?page=2']) {
      const res = await app.request(path, {
        headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
      });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<title>Meridian</title>');
    }
  });

  it('answers a missing asset 404 instead of the HTML, and never leaves its folder', async () => {
    expect((await app.request('/assets/old-999.js', { headers: { accept: 'text/html' } })).status).toBe(404);
    // Not a browser navigating: no app for a path that is no file.
    expect((await app.request('/models', { headers: { accept: 'application/json' } })).status).toBe(404);
    expect((await app.request('/..%2fdashboard-secret.txt')).status).toBe(404);
    expect((await app.request('/%2e%2e/dashboard-secret.txt')).status).toBe(404);
  });

  it('tells the app where the edge is', async () => {
    const res = await app.request('/config.json');
    expect(await res.json()).toEqual({ edgeUrl: 'http://127.0.0.1:8787' });
  });

  it("never shadows the API's routes: unknown API paths stay JSON 404s", async () => {
    const t = await createTestApp();
    try {
      for (const path of ['/v1/nothing-here', '/internal/v1/x', '/agent/x', '/docs/nope', '/health/x']) {
        const res = await t.app.request(path);
        expect(res.status, path).toBe(404);
        expect(res.headers.get('content-type'), path).toContain('application/json');
      }
      expect((await t.app.request('/openapi.json')).headers.get('content-type')).toContain('json');
      expect((await t.app.request('/health')).status).toBe(200);
      expect((await t.app.request('/docs')).headers.get('content-type')).toContain('text/html');
      expect((await t.app.request('/v1/models')).status).toBe(401);
    } finally {
      t.cleanup();
    }
  });
});
