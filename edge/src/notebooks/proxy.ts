import type { NotebookTarget } from '@meridian/protocol';
import { EdgeError } from '../errors.js';
import { NOTEBOOK_COOKIE } from './session-cookie.js';

/** The notebook's server did not take the connection: where it ran may be stale (it moved, or restarted). */
export class NotebookUnreachableError extends EdgeError {
  constructor(notebookId: string, cause: unknown) {
    super(
      'unavailable',
      `notebook '${notebookId}' did not answer: ${cause instanceof Error ? cause.message : String(cause)}`,
      { 'Retry-After': '5' },
    );
  }
}

/** Request headers the notebook must not see: the caller's Meridian credentials stay at the edge. */
const STRIPPED = ['authorization', 'host', 'origin'];

/**
 * Forwards a request for `/notebooks/{id}/…` to the notebook's server, HTTP and WebSocket alike, with the
 * server's own token, which the caller never needs to know. The server answers under the same base path,
 * so paths pass through unchanged; the access token and the edge's session cookie do not.
 */
export async function forwardToNotebook(request: Request, target: NotebookTarget & { endpoint: string }) {
  const incoming = new URL(request.url);
  const upstream = new URL(target.endpoint);
  upstream.pathname = incoming.pathname;
  const query = new URLSearchParams(incoming.search);
  query.delete('access_token');
  upstream.search = query.toString();

  const headers = new Headers(request.headers);
  for (const name of STRIPPED) headers.delete(name);
  const cookies = withoutSessionCookie(request.headers.get('cookie'));
  if (cookies) headers.set('cookie', cookies);
  else headers.delete('cookie');
  headers.set('authorization', `token ${target.token}`);
  // Jupyter refuses cross-origin WebSockets; to it, the edge is the origin.
  const upgrade = request.headers.get('upgrade')?.toLowerCase() === 'websocket';
  if (upgrade) headers.set('origin', upstream.origin);
  const init: RequestInit = { method: request.method, headers, redirect: 'manual' };
  if (request.method !== 'GET' && request.method !== 'HEAD') init.body = request.body;
  try {
    // A WebSocket upgrade comes back as a 101 carrying the upstream socket, which workerd splices through.
    return await fetch(upstream.toString(), init);
  } catch (err) {
    throw new NotebookUnreachableError(target.notebookId, err);
  }
}

/** The Cookie header less the edge's session cookie (Jupyter's own `_xsrf` cookie passes). */
function withoutSessionCookie(header: string | null): string {
  if (!header) return '';
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !part.startsWith(`${NOTEBOOK_COOKIE}=`))
    .join('; ');
}
