import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from './context.js';

/**
 * Cookie mode of the auth routes, for the browser dashboard: the refresh token travels in an HttpOnly,
 * SameSite=Strict cookie scoped to /v1/auth instead of the JSON body, so page scripts never see it.
 * A request opts in with this header. Only requests that send it may use the cookie: a custom header
 * cannot be sent cross-site without a CORS preflight the control plane never grants, so the cookie is
 * no CSRF vector even where SameSite is not honoured.
 */
export const REFRESH_COOKIE_HEADER = 'x-meridian-refresh';
export const REFRESH_COOKIE_MODE = 'cookie';
export const REFRESH_COOKIE = 'meridian_refresh';
const COOKIE_PATH = '/v1/auth';

export const COOKIE_MODE_NOTE =
  `With the header \`${REFRESH_COOKIE_HEADER}: ${REFRESH_COOKIE_MODE}\` the refresh token is set as the ` +
  `HttpOnly, SameSite=Strict cookie \`${REFRESH_COOKIE}\` (Path=${COOKIE_PATH}) and the body's refreshToken is empty.`;

export function wantsRefreshCookie(c: Context<AppEnv>): boolean {
  return c.req.header(REFRESH_COOKIE_HEADER) === REFRESH_COOKIE_MODE;
}

/** The refresh token a cookie-mode request carries, if any. */
export function refreshTokenFromCookie(c: Context<AppEnv>): string | undefined {
  if (!wantsRefreshCookie(c)) return undefined;
  const token = getCookie(c, REFRESH_COOKIE);
  return token && token.length <= 512 ? token : undefined;
}

/** The token pair as answered: in cookie mode the refresh token moves into the cookie. */
export function answerTokens<T extends { refreshToken: string }>(
  c: Context<AppEnv>,
  pair: T,
  maxAgeSeconds: number,
): T {
  if (!wantsRefreshCookie(c)) return pair;
  setCookie(c, REFRESH_COOKIE, pair.refreshToken, {
    httpOnly: true,
    sameSite: 'Strict',
    path: COOKIE_PATH,
    maxAge: maxAgeSeconds,
    secure: new URL(c.req.url).protocol === 'https:',
  });
  return { ...pair, refreshToken: '' };
}

export function clearRefreshCookie(c: Context<AppEnv>): void {
  if (wantsRefreshCookie(c)) deleteCookie(c, REFRESH_COOKIE, { path: COOKIE_PATH });
}
