// Workers KV for raw workerd, in this process's memory. workerd turns each KV call of a `kvNamespace`
// binding into an HTTP request to the service implementing it (the protocol Miniflare's KV object speaks:
// GET/PUT/DELETE /<key>, `urlencoded=true` when the key is URL-encoded, GET / to list, `expiration` /
// `expiration_ttl` query parameters, metadata in CF-KV-Metadata). The edge reads KV off its hot path only
// (a cold isolate, a control plane that is down), so an in-memory store is enough for the benchmark.
const entries = new Map();

function keyOf(url) {
  const raw = url.pathname.slice(1);
  return url.searchParams.get('urlencoded')?.toLowerCase() === 'true' ? decodeURIComponent(raw) : raw;
}

function expirationOf(url) {
  const at = url.searchParams.get('expiration');
  const ttl = url.searchParams.get('expiration_ttl');
  if (at !== null) return Number(at) * 1000;
  if (ttl !== null) return Date.now() + Number(ttl) * 1000;
  return undefined;
}

function live(key) {
  const entry = entries.get(key);
  if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const keys = [...entries.keys()]
        .filter((k) => k.startsWith(prefix) && live(k))
        .sort()
        .map((name) => ({ name, metadata: entries.get(name).metadata }));
      return Response.json({ keys, list_complete: true, cacheStatus: null });
    }
    const key = keyOf(url);
    if (request.method === 'GET') {
      const entry = live(key);
      if (!entry) return new Response('Not Found', { status: 404 });
      const headers = new Headers();
      if (entry.metadata !== undefined) headers.set('CF-KV-Metadata', entry.metadata);
      if (entry.expiresAt !== undefined)
        headers.set('CF-Expiration', String(Math.floor(entry.expiresAt / 1000)));
      return new Response(entry.value, { headers });
    }
    if (request.method === 'PUT') {
      const value = await request.arrayBuffer();
      const metadata = request.headers.get('CF-KV-Metadata') ?? undefined;
      entries.set(key, { value, metadata, expiresAt: expirationOf(url) });
      return new Response(null);
    }
    if (request.method === 'DELETE') {
      entries.delete(key);
      return new Response(null);
    }
    return new Response('Method Not Allowed', { status: 405 });
  },
};
