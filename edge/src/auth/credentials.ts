import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';

/** A bearer credential and where it came from. */
export type Credential =
  | { kind: 'api_key'; token: string }
  | { kind: 'user'; token: string; source: 'header' | 'cookie' | 'query' };

export const TOKEN_COOKIE = 'meridian_token';
export const TOKEN_QUERY_PARAMETER = 'access_token';

const API_KEY_PREFIX = /^mk_(live|test)_/;

/**
 * Reads the caller's credential: `Authorization: Bearer <token>` first, where an `mk_live_…`/`mk_test_…`
 * token is an API key and anything else a user's access token. With `browser`, where browsers cannot set
 * headers (notebook pages, WebSocket upgrades), a user token is also taken from the `meridian_token` cookie
 * or the `access_token` query parameter; API keys never are, so they stay out of URLs, logs and cookies.
 * Undefined when there is no credential; `malformed` for a present but unusable one.
 */
export function readCredential(c: Context, browser = true): Credential | 'malformed' | undefined {
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    const token = match?.[1];
    if (!token) return 'malformed';
    return API_KEY_PREFIX.test(token)
      ? { kind: 'api_key', token }
      : { kind: 'user', token, source: 'header' };
  }
  if (!browser) return undefined;
  const cookie = getCookie(c, TOKEN_COOKIE);
  if (cookie) return userToken(cookie, 'cookie');
  const query = c.req.query(TOKEN_QUERY_PARAMETER);
  if (query) return userToken(query, 'query');
  return undefined;
}

function userToken(token: string, source: 'cookie' | 'query'): Credential | 'malformed' {
  return API_KEY_PREFIX.test(token) ? 'malformed' : { kind: 'user', token, source };
}
