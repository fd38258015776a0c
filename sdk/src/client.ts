import { isFresh, type TokenStore, type Tokens, tokensFrom } from './auth.js';
import {
  errorFromResponse,
  LoginEndedError,
  MeridianError,
  NetworkError,
  UnauthenticatedError,
} from './errors.js';
import { type Page, paginate } from './pagination.js';
import type { Method, Operation, PathsFor, RequestOptions, Schema, Success } from './types.js';

export interface ClientOptions {
  /** The control plane, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** A fixed credential: an API key (mk_live_…) or an access token. */
  apiKey?: string;
  /** A user login that the client renews on expiry (see TokenStore). */
  tokens?: TokenStore;
  /** The edge, for predictions; default: none (prediction helpers then refuse). */
  edgeUrl?: string;
  /** Another fetch (a proxy, a test's instrumented one); default: the global fetch. */
  fetch?: typeof fetch;
}

type TokenPair = Schema<'TokenPair'>;

/**
 * The Meridian API over fetch: typed requests for every operation of the OpenAPI document, a login that
 * renews itself, lists as async iterators, and typed errors. Runs anywhere fetch does (Node 20+, Workers,
 * browsers).
 */
export class MeridianClient {
  readonly baseUrl: string;
  readonly edgeUrl: string | undefined;
  readonly fetch: typeof fetch;
  private refreshing: Promise<Tokens> | undefined;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.edgeUrl = options.edgeUrl?.replace(/\/+$/, '');
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Calls one operation: `client.request('get', '/v1/models/{id}', { path: { id } })`. */
  async request<M extends Method, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...[options]: RequestOptions<Operation<P, M>> extends { path: unknown } | { body: unknown }
      ? [RequestOptions<Operation<P, M>>]
      : [RequestOptions<Operation<P, M>>?]
  ): Promise<Success<Operation<P, M>>> {
    const opts = (options ?? {}) as {
      path?: Record<string, string | number>;
      query?: Record<string, unknown>;
      body?: unknown;
      raw?: { body: BodyInit; contentType: string };
      headers?: Record<string, string>;
      signal?: AbortSignal;
    };
    const url = this.baseUrl + fillPath(path, opts.path) + queryString(opts.query);
    const headers: Record<string, string> = { ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = opts.raw.body;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await this.authorized(url, {
      method: method.toUpperCase(),
      headers,
      body,
      signal: opts.signal,
    });
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return undefined as Success<Operation<P, M>>;
    return (await res.json()) as Success<Operation<P, M>>;
  }

  /** Every item of a paginated list operation, page after page. */
  list<P extends PathsFor<'get'>>(
    path: P,
    options: Omit<RequestOptions<Operation<P, 'get'>>, 'body'> = {} as never,
  ): AsyncGenerator<Success<Operation<P, 'get'>> extends Page<infer T> ? T : never, void, undefined> {
    const opts = options as { path?: unknown; query?: Record<string, unknown> };
    return paginate((cursor) =>
      (this.request as (m: string, p: string, o: unknown) => Promise<Page<never>>)('get', path, {
        ...opts,
        query: { ...opts.query, ...(cursor ? { cursor } : {}) },
      }),
    );
  }

  /** Logs in with a password and keeps the tokens in the client's TokenStore. */
  async login(email: string, password: string): Promise<TokenPair> {
    const pair = await this.request('post', '/v1/auth/login', { body: { email, password } });
    await this.options.tokens?.save(tokensFrom(pair));
    return pair;
  }

  /** Ends the login on the server and forgets it here. */
  async logout(): Promise<void> {
    const tokens = await this.options.tokens?.load();
    if (tokens) {
      await this.request('post', '/v1/auth/logout', { body: { refreshToken: tokens.refreshToken } }).catch(
        (err: unknown) => {
          if (!(err instanceof UnauthenticatedError)) throw err;
        },
      );
    }
    await this.options.tokens?.save(undefined);
  }

  /** fetch with the client's credential; a user login is renewed before expiry and once after a 401. */
  async authorized(url: string, init: RequestInit): Promise<Response> {
    const token = await this.currentToken();
    const res = await this.send(url, withBearer(init, token));
    if (res.status !== 401 || !this.options.tokens || token === undefined) return res;
    await res.body?.cancel();
    return this.send(url, withBearer(init, (await this.refresh(token)).accessToken));
  }

  /**
   * The login's access token for a link opened outside this client (a browser tab opening a notebook's
   * access URL), renewed first unless it stays valid for `validForMs` more; with it, when it expires (ms since
   * the epoch). Undefined with an API key, which the edge never takes in a URL, and without a login.
   */
  async linkToken(validForMs: number): Promise<{ token: string; expiresAt: number } | undefined> {
    const fixed = this.options.apiKey;
    if (fixed !== undefined) {
      const expiresAt = jwtExpiry(fixed);
      return expiresAt === undefined ? undefined : { token: fixed, expiresAt };
    }
    const tokens = await this.options.tokens?.load();
    if (!tokens) return undefined;
    const current =
      tokens.expiresAt - Date.now() >= validForMs ? tokens : await this.refresh(tokens.accessToken);
    return { token: current.accessToken, expiresAt: current.expiresAt };
  }

  /**
   * Sends one request; a connection that cannot be made or breaks becomes a NetworkError. An idempotent
   * request is sent once more first: a kept-alive connection the server has closed fails the next request
   * on it before anything is sent.
   */
  async send(url: string, init: RequestInit): Promise<Response> {
    const idempotent = ['GET', 'HEAD', 'PUT', 'DELETE'].includes((init.method ?? 'GET').toUpperCase());
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetch(url, init);
      } catch (err) {
        if (err instanceof MeridianError || (err instanceof Error && err.name === 'AbortError')) throw err;
        if (init.signal?.aborted) throw init.signal.reason;
        if (!idempotent || attempt === 2) throw new NetworkError(originOf(url), err);
      }
    }
  }

  private async currentToken(): Promise<string | undefined> {
    if (this.options.apiKey) return this.options.apiKey;
    const tokens = await this.options.tokens?.load();
    if (!tokens) return undefined;
    return isFresh(tokens) ? tokens.accessToken : (await this.refresh(tokens.accessToken)).accessToken;
  }

  /** Renews the login once however many calls ask at the same time (`stale`: the token that failed). */
  private refresh(stale: string): Promise<Tokens> {
    this.refreshing ??= this.refreshOnce(stale).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(stale: string): Promise<Tokens> {
    const store = this.options.tokens;
    if (!store) throw new UnauthenticatedError(401, 'unauthenticated', 'Not logged in', undefined);
    const work = async () => {
      const current = await store.load();
      if (!current) throw new UnauthenticatedError(401, 'unauthenticated', 'Not logged in', undefined);
      // Another process renewed the login while this one waited: use its tokens.
      if (current.accessToken !== stale && isFresh(current)) return current;
      const res = await this.send(`${this.baseUrl}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (!res.ok) {
        const error = await errorFromResponse(res);
        if (!(error instanceof UnauthenticatedError)) throw error;
        throw new LoginEndedError(error.status, error.code, error.message, error.requestId, error.details);
      }
      const next = tokensFrom((await res.json()) as TokenPair);
      await store.save(next);
      return next;
    };
    return store.exclusive ? store.exclusive(work) : work();
  }
}

/**
 * Where a request went, for messages: the URL's origin, or the URL as given where it has none: a base URL
 * without a scheme (`localhost:8080`) parses with `localhost:` as its scheme, and its origin reads "null".
 */
function originOf(url: string): string {
  const origin = URL.canParse(url) ? new URL(url).origin : 'null';
  return origin === 'null' ? url : origin;
}

/** A JWT's `exp` in ms since the epoch; undefined for anything else (an API key). */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (token.split('.').length !== 3 || !payload) return undefined;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function withBearer(init: RequestInit, token: string | undefined): RequestInit {
  if (token === undefined) return init;
  return {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
  };
}

function fillPath(path: string, params: Record<string, string | number> | undefined): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new TypeError(`Missing path parameter ${name} for ${path}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Record<string, unknown> | undefined): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
