import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { lookUpOrgStatus, lookUpSession } from '../auth/records.js';
import { verifyUserToken } from '../auth/user-tokens.js';
import type { EdgeVariables } from '../caller.js';
import { ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { NOTEBOOK_COOKIE, type NotebookSession, openNotebookSession } from './session-cookie.js';

/** Who opened a notebook, how, and until when their login holds (ISO 8601; undefined: not known). */
export interface NotebookAccess {
  session: NotebookSession;
  via: 'header' | 'query' | 'cookie';
  loginExpiresAt: string | undefined;
}

export const TOKEN_QUERY_PARAMETER = 'access_token';

type Background = ((promise: Promise<unknown>) => void) | undefined;

function unauthenticated(message: string): EdgeError {
  return new EdgeError('unauthenticated', message, { 'WWW-Authenticate': 'Bearer realm="meridian"' });
}

/**
 * Authenticates a request for notebook `notebookId` from, in order: `Authorization: Bearer <user token>`
 * (API clients), `?access_token=<user token>` (a browser opening the access URL), or the notebook's session
 * cookie (every asset, API call and WebSocket after that), read only on the notebook's own origin
 * (`withCookie`). API keys are refused: notebooks belong to users. 401 when there is no credential or the
 * login behind it has ended, 402 for a suspended org.
 */
export async function resolveNotebookAccess(
  c: Context<{ Bindings: Env; Variables: EdgeVariables }>,
  notebookId: string,
  waitUntil: Background,
  withCookie: boolean,
): Promise<NotebookAccess> {
  try {
    const header = c.req.header('authorization');
    if (header !== undefined) return await fromToken(c.env, bearer(header), notebookId, 'header', waitUntil);
    const query = c.req.query(TOKEN_QUERY_PARAMETER);
    if (query) return await fromToken(c.env, query, notebookId, 'query', waitUntil);
    const cookie = withCookie ? getCookie(c, NOTEBOOK_COOKIE) : undefined;
    if (cookie) return await fromCookie(c.env, cookie, notebookId, waitUntil);
  } catch (err) {
    if (err instanceof ControlPlaneUnavailable)
      throw new EdgeError('unavailable', 'Cannot verify your login right now; retry shortly', {
        'Retry-After': '5',
      });
    throw err;
  }
  throw unauthenticated(
    'No credential: open the notebook from its access URL with ?access_token=<your access token>, or send Authorization: Bearer <token>',
  );
}

function bearer(header: string): string {
  const token = /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1];
  if (!token) throw unauthenticated('Malformed credential');
  if (/^mk_(live|test)_/.test(token))
    throw unauthenticated('API keys are not accepted here: notebooks belong to users');
  return token;
}

async function fromToken(
  env: Env,
  token: string,
  notebookId: string,
  via: 'header' | 'query',
  waitUntil: Background,
): Promise<NotebookAccess> {
  const claims = await verifyUserToken(env, token);
  if (!claims) throw unauthenticated('Invalid or expired access token: sign in again');
  const session = { notebookId, ...claims };
  return { session, via, loginExpiresAt: await loginHolds(env, session, waitUntil) };
}

async function fromCookie(
  env: Env,
  value: string,
  notebookId: string,
  waitUntil: Background,
): Promise<NotebookAccess> {
  const session = openNotebookSession(env.EDGE_SERVICE_TOKEN, value);
  if (!session || session.notebookId !== notebookId)
    throw unauthenticated('This notebook session is not valid here: open the notebook from its access URL');
  return { session, via: 'cookie', loginExpiresAt: await loginHolds(env, session, waitUntil) };
}

/** Checks the login (and its org) still holds; answers when it ends, where the control plane says. */
async function loginHolds(env: Env, s: NotebookSession, waitUntil: Background): Promise<string | undefined> {
  const status = await lookUpSession(env, s.sessionId, waitUntil);
  if (status.status !== 'active' || status.userId !== s.userId || status.orgId !== s.orgId)
    throw unauthenticated(
      'Your login has ended (logged out, password changed or removed from the organization): sign in again and reopen the notebook',
    );
  const expiresAt = status.expiresAt ?? undefined;
  if (expiresAt !== undefined && Date.parse(expiresAt) <= Date.now())
    throw unauthenticated('Your login has expired: sign in again and reopen the notebook');
  const org = await lookUpOrgStatus(env, s.orgId, waitUntil);
  if (!org) throw unauthenticated('Your login belongs to no existing organization');
  if (org.suspended)
    throw new EdgeError(
      'payment_required',
      `Organization ${s.orgId} is suspended: ${org.suspendedReason ?? 'see billing'}`,
    );
  return expiresAt;
}
