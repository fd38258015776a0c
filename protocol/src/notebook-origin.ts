// Each notebook is served from an origin of its own, `<label>.<notebook domain>`, never from the edge's
// shared one: a notebook's pages are whatever its owner's code serves, and on a shared origin those pages
// could script every other notebook the same browser has open (cookies scoped by path are no boundary
// between pages of one origin). Both the control plane (access URLs) and the edge (routing) use these.

/**
 * The notebook domain of the embedded default: browsers resolve every `*.localhost` name to loopback, so a
 * notebook opens at `http://nb-….notebooks.localhost:8787/` with no DNS set up. Production sets a domain with
 * a wildcard record and route to the edge (MERIDIAN_NOTEBOOK_DOMAIN and the edge's NOTEBOOK_DOMAIN).
 */
export const DEFAULT_NOTEBOOK_DOMAIN = 'notebooks.localhost';

const ID = /^nb_[0-9a-z]{1,60}$/;
const LABEL = /^nb-([0-9a-z]{1,60})$/;

/** Whether `id` has a notebook id's shape (and so an origin): `nb_` and lower-case letters and digits. */
export function isNotebookId(id: string): boolean {
  return ID.test(id);
}

/** The DNS label of notebook `id`'s origin: its id with `-` for `_`, which host names may not hold. */
export function notebookHostLabel(id: string): string {
  if (!isNotebookId(id)) throw new Error(`not a notebook id: ${id}`);
  return `nb-${id.slice(3)}`;
}

/**
 * The notebook whose origin `host` (a Host header: name, and port or not) is under `domain`, or undefined
 * when it is not a notebook's origin (the edge's own host, say). Case-insensitive, as host names are.
 */
export function notebookIdOfHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  const name = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = LABEL.exec(name.slice(0, -suffix.length));
  return label ? `nb_${label[1]}` : undefined;
}

/**
 * Where notebook `id` opens: its own origin under `domain`, with the scheme and port of the edge's public URL
 * (`https://edge.example.com` → `https://nb-….notebooks.example.com/notebooks/<id>/`).
 */
export function notebookAccessUrl(edgePublicUrl: string, domain: string, id: string): string {
  // Parsed by hand: this package sees no runtime's URL type. Scheme and port are all it needs.
  const edge = /^(https?):\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*)(?::(\d+))?(?:[/?#]|$)/i.exec(
    edgePublicUrl,
  );
  if (!edge) throw new Error(`not an http(s) URL: ${edgePublicUrl}`);
  const [, scheme, port] = edge;
  const defaultPort = scheme?.toLowerCase() === 'https' ? '443' : '80';
  const shown = port && port !== defaultPort ? `:${port}` : '';
  return `${scheme?.toLowerCase()}://${notebookHostLabel(id)}.${domain}${shown}/notebooks/${id}/`;
}
