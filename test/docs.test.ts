import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerType, serve } from '@hono/node-server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestApp } from '../control-plane/testing/test-app.js';
import { launchChromium } from './helpers/chromium.js';
import { freePort } from './helpers/ports.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOT = join(REPO_ROOT, 'test-results', 'docs.png');
const PATHS = [
  '/v1/auth/register',
  '/v1/auth/login',
  '/v1/api-keys',
  '/v1/audit-log',
  '/v1/org/members',
  '/v1/org/invitations',
  '/v1/invitations/accept',
];
const OpenApiDoc = z.object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) });

function listen(fetch: (req: Request) => Response | Promise<Response>, port: number): Promise<ServerType> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port }, () => resolve(server));
  });
}

describe('the API docs at /docs', () => {
  let testApp: Awaited<ReturnType<typeof createTestApp>> | undefined;
  let server: ServerType | undefined;
  let browser: Browser | undefined;
  let origin = '';

  beforeAll(async () => {
    testApp = await createTestApp();
    const port = await freePort();
    server = await listen(testApp.app.fetch, port);
    origin = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    testApp?.cleanup();
  });

  it('declares OpenAPI 3.1.0 with every public route', async () => {
    const res = await fetch(`${origin}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = OpenApiDoc.parse(await res.json());
    expect(doc.openapi).toBe('3.1.0');
    for (const path of PATHS) expect(Object.keys(doc.paths)).toContain(path);
  });

  it('renders every operation in a browser without a single request leaving the machine', async () => {
    if (!browser) throw new Error('chromium did not start');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const outside: string[] = [];
    const served: string[] = [];
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) {
        served.push(url.slice(origin.length));
        return route.continue();
      }
      outside.push(url);
      return route.abort('blockedbyclient');
    });

    const res = await page.goto(`${origin}/docs`);
    expect(res?.status()).toBe(200);
    await page.locator('.opblock-summary-path').first().waitFor({ timeout: 15_000 });
    // Swagger UI renders only the operations near the viewport: read them a screen at a time, down the page.
    // It breaks long paths with zero-width spaces; strip them before comparing.
    const listed = new Set<string>();
    const height = await page.evaluate(() => document.body.scrollHeight);
    for (let y = 0; y <= height; y += 600) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await page.waitForTimeout(50);
      for (const t of await page.locator('.opblock-summary-path').allTextContents())
        listed.add(t.replace(/\u200b/g, '').trim());
    }
    for (const path of PATHS) expect([...listed]).toContain(path);
    await page.evaluate(() => window.scrollTo(0, 0));
    await expect(page.locator('.info .title').textContent()).resolves.toContain('Meridian control plane');

    await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(20 * 1024);

    // The interceptor saw the page's own requests, so an empty `outside` means none went elsewhere.
    expect(served).toEqual(
      expect.arrayContaining(['/docs', '/docs/assets/swagger-ui-bundle.js', '/openapi.json']),
    );
    expect(pageErrors).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });
});
