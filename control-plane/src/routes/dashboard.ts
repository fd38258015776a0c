import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { AppEnv } from '../http/context.js';
import { errorResponse, onNotFound } from '../http/errors.js';

/** The dashboard's Vite build in this repository (`npm run build -w dashboard`). */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// Paths the API and the operators own: an unknown path under them stays the API's JSON 404, never the app.
const RESERVED = [
  '/v1',
  '/v2',
  '/internal',
  '/agent',
  '/docs',
  '/openapi.json',
  '/health',
  '/metrics',
  '/.well-known',
];
const isReserved = (path: string) => RESERVED.some((p) => path === p || path.startsWith(`${p}/`));

// Vite names built assets by content hash, so they never change under one name; index.html must be
// revalidated each time, or a browser would keep loading the previous build's assets.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

export interface DashboardOptions {
  dir: string;
  /** Where browsers reach the edge for predictions; the app reads it from /config.json. */
  edgePublicUrl: string;
}

async function fileIn(dir: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const file = normalize(join(dir, decoded));
  if (!file.startsWith(dir + sep) || decoded.includes('\0')) return undefined;
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? file : undefined;
}

/**
 * The web dashboard at `/`: files of its build with their content types, `/config.json` for the app, and
 * index.html for any other GET outside the API's paths (the app routes in the browser). Mounted last.
 */
export function dashboardRoutes(options: DashboardOptions) {
  const dir = normalize(options.dir);
  const config = JSON.stringify({ edgeUrl: options.edgePublicUrl.replace(/\/+$/, '') });
  return new Hono<AppEnv>()
    .get('/config.json', (c) =>
      c.body(config, 200, { 'content-type': TYPES['.json'] as string, 'cache-control': 'no-store' }),
    )
    .get('*', async (c, next) => {
      const path = c.req.path;
      if (isReserved(path)) return onNotFound(c);
      const file = path === '/' ? undefined : await fileIn(dir, path);
      if (file) {
        const type = TYPES[extname(file)] ?? 'application/octet-stream';
        const cache = path.startsWith('/assets/') ? IMMUTABLE : REVALIDATE;
        return c.body(new Uint8Array(await readFile(file)), 200, {
          'content-type': type,
          'cache-control': cache,
          'x-content-type-options': 'nosniff',
        });
      }
      // A missing file with an extension (an old asset, a typo) is a 404, not the app's HTML as a script;
      // and only a browser navigating (it asks for HTML) gets the app for a path that is no file, so an API
      // client that strays outside the API's paths still reads a JSON 404.
      if (extname(path) !== '') return next();
      if (path !== '/' && !(c.req.header('accept') ?? '').includes('text/html')) return next();
      const index = await readFile(join(dir, 'index.html')).catch(() => undefined);
      if (!index) {
        return errorResponse(
          c,
          'unavailable',
          'The dashboard is not built: run `npm run build -w dashboard` (npm start builds it)',
        );
      }
      return c.body(new Uint8Array(index), 200, {
        'content-type': TYPES['.html'] as string,
        'cache-control': REVALIDATE,
        'x-content-type-options': 'nosniff',
        // The app loads only its own files and talks to this origin and the edge.
        'content-security-policy': `default-src 'self'; connect-src 'self' ${new URL(options.edgePublicUrl).origin}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'`,
      });
    });
}
