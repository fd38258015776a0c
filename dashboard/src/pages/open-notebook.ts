import type { CookieSession } from '../api/session';

/** A token this close to its end is renewed first: the edge must still accept it when the tab loads. */
const MARGIN_MS = 30_000;

/**
 * Opens a running notebook in a new tab. A new tab cannot send the in-memory access token as a header, so it
 * goes in the address once: the edge trades it for an HttpOnly session cookie scoped to this notebook and
 * bound to the login, and redirects to the same address without it. The tab opens at once (inside the click,
 * so no pop-up blocker stops it) and learns its address when the token is at hand.
 */
export async function openNotebook(session: CookieSession, accessUrl: string): Promise<void> {
  const tab = window.open('about:blank', '_blank');
  if (!tab) throw new Error('The browser blocked the new tab: allow pop-ups for this site and try again');
  // The notebook's page must not reach back into the dashboard's window.
  tab.opener = null;
  try {
    let tokens = await session.load();
    if (!tokens || tokens.expiresAt - Date.now() < MARGIN_MS) {
      await session.renew();
      tokens = await session.load();
    }
    if (!tokens) throw new Error('Your session has ended: log in again to open the notebook');
    const url = new URL(accessUrl);
    url.searchParams.set('access_token', tokens.accessToken);
    tab.location.href = url.toString();
  } catch (err) {
    tab.close();
    throw err;
  }
}
