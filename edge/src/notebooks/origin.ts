import { DEFAULT_NOTEBOOK_DOMAIN, notebookHostLabel, notebookIdOfHost } from '@meridian/protocol';
import type { Context } from 'hono';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';

// A notebook's pages are whatever its owner's code serves. On the edge's shared origin such a page could
// script every notebook the same browser has open (a cookie's path is no boundary between pages of one
// origin), so browsers use each notebook on an origin of its own, `nb-<id>.<NOTEBOOK_DOMAIN>`, where its
// session cookie lives; and a request that cookie comes with must come from that origin's own pages.

/** What these read of a request's context: its bindings and the request. */
type NotebookContext = Pick<Context<{ Bindings: Env }>, 'env' | 'req'>;

/** The domain notebooks' origins are under (the control plane's MERIDIAN_NOTEBOOK_DOMAIN). */
export function notebookDomain(env: Env): string {
  return env.NOTEBOOK_DOMAIN?.trim().toLowerCase() || DEFAULT_NOTEBOOK_DOMAIN;
}

/** The host the client asked for: its Host header, else the URL's (tests build requests without one). */
function requestHost(c: NotebookContext): string {
  return c.req.header('host') ?? new URL(c.req.url).host;
}

/** The notebook whose own origin this request came to, or undefined on the shared origin. */
export function notebookOfOrigin(c: NotebookContext): string | undefined {
  return notebookIdOfHost(requestHost(c), notebookDomain(c.env));
}

/** The same path and query on notebook `id`'s own origin, with the scheme and port this request used. */
export function onOwnOrigin(c: NotebookContext, id: string): string {
  const url = new URL(c.req.url);
  const https = url.protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
  const port = /:(\d+)$/.exec(requestHost(c))?.[1];
  const host = `${notebookHostLabel(id)}.${notebookDomain(c.env)}${port ? `:${port}` : ''}`;
  return `${https ? 'https' : 'http'}://${host}${url.pathname}${url.search}`;
}

/**
 * Refuses a request that carries a notebook's session cookie but was made by a page of another origin
 * (another notebook's, which is same-site and so gets the cookie): Fetch Metadata and Origin say where it came
 * from. A top-level GET navigation from anywhere (a link, the dashboard) still opens the notebook; a page
 * elsewhere cannot read what it loads. Clients that send neither header are not browsers and carry no
 * ambient cookie of someone else's.
 */
export function refuseFromElsewhere(c: NotebookContext, id: string): void {
  const site = c.req.header('sec-fetch-site');
  const navigation =
    (c.req.method === 'GET' || c.req.method === 'HEAD') &&
    c.req.header('sec-fetch-mode') === 'navigate' &&
    c.req.header('sec-fetch-dest') === 'document';
  const crossSite = site !== undefined && site !== 'same-origin' && site !== 'none' && !navigation;
  const origin = c.req.header('origin');
  const otherOrigin = origin !== undefined && originHost(origin) !== requestHost(c).toLowerCase();
  if (crossSite || otherOrigin)
    throw new EdgeError(
      'forbidden',
      `Notebook ${id} answers its own pages only: a request from ${origin ?? `a ${site} page`} was refused`,
    );
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined; // `null` (a sandboxed page) or malformed: no origin of this notebook's
  }
}
