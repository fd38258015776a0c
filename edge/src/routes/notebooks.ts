import { isNotebookId, type NotebookTarget } from '@meridian/protocol';
import { type Context, Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import type { EdgeVariables } from '../caller.js';
import type { Env } from '../env.js';
import { EdgeError, echoed } from '../errors.js';
import { type NotebookAccess, resolveNotebookAccess, TOKEN_QUERY_PARAMETER } from '../notebooks/access.js';
import { notebookOfOrigin, onOwnOrigin, refuseFromElsewhere } from '../notebooks/origin.js';
import { forwardToNotebook, NotebookUnreachableError } from '../notebooks/proxy.js';
import { refuseNotebookRequest } from '../notebooks/refusal.js';
import { cookieOptions, NOTEBOOK_COOKIE, sealNotebookSession } from '../notebooks/session-cookie.js';
import { notebookTarget } from '../notebooks/target.js';

type AppEnv = { Bindings: Env; Variables: EdgeVariables };

/**
 * `/notebooks/{id}/…` → the Jupyter server on the agent that runs it, for the notebook's owner only.
 * Browsers use it on the notebook's own origin (notebooks/origin.ts): opening the access URL with
 * `?access_token=` there trades the token for a session cookie of that origin and redirects to the same URL
 * without it; the cookie then authorises every asset, API call and kernel WebSocket of that origin's pages
 * while the user's login holds. On the edge's shared origin a page load goes to the notebook's origin, and
 * only clients that carry their token (Authorization, or `?access_token=` on a WebSocket) are served.
 * Another org's notebook, and another member's, answer 404 like one that does not exist; refusals are a
 * page for a browser and JSON for everything else.
 */
export function createNotebookRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.all('/notebooks/:id', (c) => {
    const url = new URL(c.req.url);
    return c.redirect(`/notebooks/${encodeURIComponent(c.req.param('id'))}/${url.search}`, 308);
  });
  app.all('/notebooks/:id/*', async (c) => {
    const id = c.req.param('id');
    try {
      return await serveNotebook(c, id);
    } catch (err) {
      if (!(err instanceof EdgeError)) throw err;
      const res = refuseNotebookRequest(c, err, c.get('requestId'));
      // A cookie whose login ended is of no further use: the browser drops it.
      if (err.code === 'unauthenticated') clearSession(res, c, id);
      return res;
    }
  });
  return app;
}

async function serveNotebook(c: Context<AppEnv>, id: string): Promise<Response> {
  // No notebook has another shape of id (nor an origin to send a browser to).
  if (!isNotebookId(id)) throw new EdgeError('not_found', `Notebook '${echoed(id)}' not found`);
  const origin = notebookOfOrigin(c);
  // Another notebook's origin serves none but its own: its pages are its owner's.
  if (origin !== undefined && origin !== id)
    throw new EdgeError('not_found', `This address serves notebook ${origin} only`);
  const ownOrigin = origin === id;
  // A browser opening a notebook on the shared origin goes to the notebook's own, token and all; one posting
  // a form there (with someone's token in the query) would get that notebook's page shown on the shared origin.
  if (!ownOrigin && isBrowserNavigation(c) && c.req.header('authorization') === undefined) {
    if (c.req.method === 'GET') return toOwnOrigin(c, id);
    throw new EdgeError('unauthenticated', 'Open the notebook at its access URL');
  }
  const access = await resolveNotebookAccess(c, id, background(c), ownOrigin);
  if (access.via === 'cookie') refuseFromElsewhere(c, id);
  const { session } = access;
  const owned = (target: NotebookTarget | undefined): NotebookTarget => {
    if (!target || target.orgId !== session.orgId || target.ownerId !== session.userId)
      throw new EdgeError('not_found', `Notebook '${id}' not found (it does not exist, or it is not yours)`);
    return target;
  };
  let target = owned(await notebookTarget(c.env, id));
  if (ownOrigin && access.via === 'query' && isPageLoad(c)) return startBrowserSession(c, access);
  // What the isolate cached may predate a start: refuse only on what the control plane says now.
  if (!isServing(target)) target = owned(await notebookTarget(c.env, id, { fresh: true }));
  if (!isServing(target))
    throw new EdgeError(
      'unavailable',
      `Notebook '${target.name ?? id}' is ${target.status}; ${whatNext(target)}`,
      {
        'Retry-After': '5',
      },
    );
  try {
    return await forwardToNotebook(c.req.raw, target);
  } catch (err) {
    if (!(err instanceof NotebookUnreachableError)) throw err;
    // Stopped and started again since it was cached, it answers on another port or host. A request without
    // a body is sent once more to where it runs now; one with a body may have been read, so the caller retries.
    const now = owned(await notebookTarget(c.env, id, { fresh: true }));
    if (!isServing(now) || now.endpoint === target.endpoint || !isReplayable(c.req.raw)) throw err;
    return forwardToNotebook(c.req.raw, now);
  }
}

/** What the owner of a notebook that does not serve yet can expect, or do, in the tools they have. */
function whatNext(target: NotebookTarget): string {
  if (target.status === 'pending' || target.status === 'starting' || target.status === 'running')
    return 'it answers here once its server is up';
  const cli = target.name
    ? `\`meridian notebooks start ${target.name}\``
    : `POST /v1/notebooks/${target.notebookId}/start`;
  return `start it (on the dashboard's Notebooks page, or ${cli}) and it answers here once its server is up`;
}

function isServing(target: NotebookTarget): target is NotebookTarget & { endpoint: string } {
  return target.status === 'running' && Boolean(target.endpoint);
}

function isReplayable(request: Request): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

/** Sets the notebook's session cookie and sends the browser to the same URL without the token. */
function startBrowserSession(c: Context<AppEnv>, access: NotebookAccess): Response {
  const url = new URL(c.req.url);
  url.searchParams.delete(TOKEN_QUERY_PARAMETER);
  const expiresAt = access.loginExpiresAt === undefined ? undefined : Date.parse(access.loginExpiresAt);
  const maxAge =
    expiresAt === undefined ? undefined : Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
  const value = sealNotebookSession(c.env.EDGE_SERVICE_TOKEN, access.session);
  setCookie(c, NOTEBOOK_COOKIE, value, cookieOptions(access.session.notebookId, isHttps(c), maxAge));
  c.header('cache-control', 'no-store');
  // Referrer-Policy: the token must not leak from this response to wherever the redirect leads.
  c.header('referrer-policy', 'no-referrer');
  return c.redirect(`${url.pathname}${url.search}`, 302);
}

/** Drops the browser's notebook cookie (when it sent one) from the refusal's answer. */
function clearSession(res: Response, c: Context<AppEnv>, id: string): void {
  if (!c.req.header('cookie')?.includes(`${NOTEBOOK_COOKIE}=`)) return;
  const { path, secure } = cookieOptions(id, isHttps(c), undefined);
  res.headers.append(
    'set-cookie',
    `${NOTEBOOK_COOKIE}=; Max-Age=0; Path=${path}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`,
  );
}

/** Sends a browser to the notebook's own origin, token and all: the session cookie is made and kept there. */
function toOwnOrigin(c: Context<AppEnv>, id: string): Response {
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
  return c.redirect(onOwnOrigin(c, id), 302);
}

function isPageLoad(c: Context<AppEnv>): boolean {
  return c.req.method === 'GET' && c.req.header('upgrade')?.toLowerCase() !== 'websocket';
}

/** A browser loading a page (Fetch Metadata says so; a browser without it asks for HTML), not an API client. */
function isBrowserNavigation(c: Context<AppEnv>): boolean {
  const mode = c.req.header('sec-fetch-mode');
  if (mode !== undefined) return mode === 'navigate';
  return isPageLoad(c) && (c.req.header('accept') ?? '').includes('text/html');
}

/** HTTPS as the browser sees it: directly, or behind a proxy that terminates TLS and says so. */
function isHttps(c: Context<AppEnv>): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

/** The request's waitUntil (absent outside a Worker request, e.g. in some tests). */
function background(c: Context<AppEnv>): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}
