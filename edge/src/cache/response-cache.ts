import { INFERENCE_HEADER_CONTENT_LENGTH, type RoutedDeployment, toHex } from '@meridian/protocol';

// Answers of deterministic models, kept in the Cache API of the data centre: the same input to the same
// model version gives the same output, so an identical request never needs a GPU twice.

const CACHE_ORIGIN = 'https://response-cache.meridian.internal';
/** RFC 9211 cache name in Cache-Status. */
const CACHE_NAME = 'meridian-edge';
const DEFAULT_MAX_AGE_SECONDS = 3600;
// What an answer keeps: enough to replay the agent's answer, nothing of the agent itself.
const KEPT_HEADERS = ['content-type', INFERENCE_HEADER_CONTENT_LENGTH, 'retry-after'];

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Whether a request's answer may come from (and go to) the response cache: an unpinned or pinned infer of a deterministic deployment. */
export function isCacheable(deployment: RoutedDeployment, method: string, path: string): boolean {
  return deployment.deterministic && method.toUpperCase() === 'POST' && path === '/infer';
}

/**
 * Hex SHA-256 that is equal for requests that mean the same. JSON (no Inference-Header-Content-Length):
 * object keys sorted recursively, no whitespace, numbers kept as written (so 64-bit integers never
 * collide). Binary tensors: the header length and the raw bytes. Anything else, or JSON that does not
 * parse: the raw bytes. Each form is prefixed, so no two forms share a hash.
 */
export async function canonicalBodyHash(
  body: Uint8Array,
  contentType?: string,
  headerLength?: string,
): Promise<string> {
  let canonical: Uint8Array;
  if (headerLength !== undefined) canonical = concat(encoder.encode(`binary ${headerLength}\n`), body);
  else {
    const json = isJson(contentType) ? canonicalJson(body) : undefined;
    canonical = json === undefined ? concat(encoder.encode('raw\n'), body) : encoder.encode(`json\n${json}`);
  }
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', canonical)));
}

/** The cache key of a request: its model version and its canonical body hash. */
export function responseCacheKey(versionId: string, bodyHash: string): string {
  return `${CACHE_ORIGIN}/${encodeURIComponent(versionId)}/${bodyHash}`;
}

/** Looks up and stores answers of deterministic deployments; the caller decides what is cacheable. */
export class ResponseCache {
  constructor(
    private readonly cache: Cache = caches.default,
    private readonly maxAgeSeconds = DEFAULT_MAX_AGE_SECONDS,
  ) {}

  /** The stored answer for `key` (see responseCacheKey), marked `Cache-Status: meridian-edge; hit`. */
  async lookup(key: string): Promise<Response | undefined> {
    const hit = await this.cache.match(new Request(key));
    if (!hit) return undefined;
    return withHeaders(hit, `${CACHE_NAME}; hit`);
  }

  /**
   * Returns the answer to send, marked `fwd=miss`; a 200 is also stored (in the background, through
   * `ctx.waitUntil`) and marked `stored`. Anything else is never stored: errors are not answers of the model.
   */
  store(key: string, response: Response, ctx: Pick<ExecutionContext, 'waitUntil'>): Response {
    if (response.status !== 200 || response.body === null)
      return withHeaders(response, `${CACHE_NAME}; fwd=miss`);
    const [toCaller, toCache] = response.body.tee();
    const headers = keptHeaders(response);
    headers.delete('retry-after');
    headers.set('cache-control', `max-age=${this.maxAgeSeconds}`);
    ctx.waitUntil(
      this.cache
        .put(new Request(key), new Response(toCache, { status: 200, headers }))
        .catch((err: unknown) => {
          console.warn(
            JSON.stringify({ level: 'warn', message: 'response cache put failed', error: String(err) }),
          );
        }),
    );
    return withHeaders(
      new Response(toCaller, { status: 200, headers: response.headers }),
      `${CACHE_NAME}; fwd=miss; stored`,
    );
  }
}

function withHeaders(response: Response, cacheStatus: string): Response {
  const headers = keptHeaders(response);
  headers.set('cache-status', cacheStatus);
  return new Response(response.body, { status: response.status, headers });
}

function keptHeaders(response: Response): Headers {
  const headers = new Headers();
  for (const name of KEPT_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

type RawJsonParse = (
  text: string,
  reviver: (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown,
) => unknown;
type RawJson = { rawJSON?: (text: string) => unknown };

/**
 * Canonical JSON text, or undefined when the body is not JSON or the runtime cannot keep number literals
 * (JSON.rawJSON and the reviver's source text, both in workerd's V8).
 */
export function canonicalJson(body: Uint8Array): string | undefined {
  const rawJSON = (JSON as RawJson).rawJSON;
  if (typeof rawJSON !== 'function') return undefined;
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    return undefined;
  }
  try {
    const value = (JSON.parse as RawJsonParse)(text, (_key, v, context) => {
      if (typeof v === 'number') return context?.source === undefined ? v : rawJSON(context.source);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      // fromEntries defines own properties, so a "__proto__" key stays a key.
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    });
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
