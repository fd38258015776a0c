import { useEffect, useState } from 'react';

const EVENT = 'meridian:navigate';

/** Goes to an in-app path without reloading (history API); the server answers index.html for any of them. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

/** The current path and query, updated on navigation and on back / forward. */
const read = () => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });

export function useLocation(): { path: string; query: URLSearchParams } {
  const [location, setLocation] = useState(read);
  useEffect(() => {
    const update = () =>
      setLocation((shown) => {
        const now = read();
        return now.path === shown.path && now.query.toString() === shown.query.toString() ? shown : now;
      });
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    // A navigation since the render (a child's effect runs before this one: a redirect) is not missed.
    update();
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return location;
}

/** `/models/:id` against `/models/mdl_1` → { id: 'mdl_1' }, or undefined when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  // A trailing slash is ignored (`/models/` is `/models`), but the root stays `/`.
  const got = path.replace(/(.)\/+$/, '$1').split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? '';
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return undefined;
  }
  return params;
}

/**
 * The list a page belongs to: `/deployments/dep_1` → `/deployments`, a run → `/experiments`; a list is its
 * own. What another organisation can show of a page, since its ids belong to the organisation it came from.
 */
export function listPageOf(path: string): string {
  const section = path.split('/')[1] ?? '';
  if (section === 'runs') return '/experiments';
  return `/${section}`;
}
