/**
 * Where signing in or signing up goes on to. A signed-out visitor sees the login form at whatever address they
 * opened (an invitation link with its token, a deployment's page), and the form returns them there; "Create an
 * account" and "Log in" carry that address between the two forms as `?next=`, so someone who opens an
 * invitation link before they have an account still lands on it after signing up.
 */
export function returnPath(path: string, query: URLSearchParams): string | undefined {
  if (path === '/login' || path === '/signup') return localPath(query.get('next'));
  return query.size > 0 ? `${path}?${query}` : path;
}

/** `to` with `?next=` pointing at `back`, when there is somewhere to come back to. */
export function withNext(to: string, back: string | undefined): string {
  return back && back !== '/' ? `${to}?next=${encodeURIComponent(back)}` : to;
}

/** Any origin: only whether `next` stays on it matters. */
const HERE = 'https://dashboard.invalid';

/**
 * `next` when it is a path of this app: never another origin (`//host`, `https:`, or `/<tab>/host`, which the URL
 * parser reads as `//host`), so a link cannot send a fresh login elsewhere, nor make the history API throw on it.
 * Answered as the parser reads it, which is what the navigation will use.
 */
function localPath(next: string | null): string | undefined {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return undefined;
  let url: URL;
  try {
    url = new URL(next, HERE);
  } catch {
    return undefined;
  }
  if (url.origin !== HERE) return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}
