import {
  errorFromResponse,
  LoginEndedError,
  type Schema,
  type TokenStore,
  type Tokens,
  tokensFrom,
  UnauthenticatedError,
} from '@meridian/sdk';

type TokenPair = Schema<'TokenPair'>;

/** Asks the auth routes for cookie mode: the refresh token stays in an HttpOnly cookie, never in scripts. */
export const COOKIE_MODE = { 'x-meridian-refresh': 'cookie' } as const;

/** Where the session notes that this browser signed in (localStorage): a flag, no secret. */
export type SignedInNote = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const SIGNED_IN = 'meridian.signed-in';

/**
 * The dashboard's login: the access token in memory only, the refresh token in the HttpOnly cookie the
 * control plane sets. The SDK renews a login inside `exclusive`, re-reading the store first; renewing from
 * the cookie there hands it fresh tokens, so it never sends a body refresh token (it has none).
 */
export class CookieSession implements TokenStore {
  private tokens: Tokens | undefined;
  private renewing: Promise<void> | undefined;
  private readonly listeners = new Set<(loggedIn: boolean) => void>();

  constructor(
    private readonly apiUrl: string,
    private readonly note: SignedInNote,
  ) {}

  async load() {
    return this.tokens;
  }

  async save(tokens: Tokens | undefined) {
    this.tokens = tokens;
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.renew();
    return work();
  }

  /** Told when the login starts or ends (ended: the cookie no longer renews it). */
  subscribe(listener: (loggedIn: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get loggedIn(): boolean {
    return this.tokens !== undefined;
  }

  /** New tokens from the cookie; throws UnauthenticatedError (and tells listeners) when it is gone. */
  renew(): Promise<void> {
    this.renewing ??= this.renewInTurn().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /**
   * Refresh tokens rotate, and a spent one sent again ends the whole login. So renewals take turns across
   * every tab of the app (a Web Lock): each sends the cookie the one before it left.
   */
  private async renewInTurn(): Promise<void> {
    if (typeof navigator !== 'undefined' && navigator.locks) {
      await navigator.locks.request('meridian-refresh', () => this.renewNow());
    } else {
      await this.renewNow();
    }
  }

  private async renewNow(): Promise<void> {
    // Scripts cannot see the HttpOnly cookie, so the note stands for it: without one no sign-in left a cookie
    // here, and asking would only earn a 401 (which the browser logs as an error on the login page).
    if (this.note.getItem(SIGNED_IN) === null) {
      this.end();
      throw new LoginEndedError(401, 'unauthenticated', 'Not signed in in this browser', undefined);
    }
    const res = await this.post('/v1/auth/refresh', {});
    if (!res.ok) {
      const error = await errorFromResponse(res);
      this.end();
      // The cookie renews no login (expired, revoked, cleared): as the SDK says it, the login has ended.
      if (error instanceof UnauthenticatedError)
        throw new LoginEndedError(error.status, error.code, error.message, error.requestId, error.details);
      throw error;
    }
    this.begin((await res.json()) as TokenPair);
  }

  /** Logs in (or registers, with `path`) in cookie mode. */
  async start(path: '/v1/auth/login' | '/v1/auth/register', body: Record<string, unknown>): Promise<unknown> {
    const res = await this.post(path, body);
    if (!res.ok) throw await errorFromResponse(res);
    const json = (await res.json()) as TokenPair;
    this.begin(json);
    return json;
  }

  /** Adopts tokens a cookie-mode answer carried (switch-org, password change). */
  begin(pair: TokenPair): void {
    this.tokens = tokensFrom(pair);
    this.note.setItem(SIGNED_IN, '1');
    for (const listener of this.listeners) listener(true);
  }

  async logout(): Promise<void> {
    await this.post('/v1/auth/logout', {}).catch(() => undefined);
    this.end();
  }

  end(): void {
    const had = this.tokens !== undefined;
    this.tokens = undefined;
    this.note.removeItem(SIGNED_IN);
    if (had) for (const listener of this.listeners) listener(false);
  }

  private post(path: string, body: unknown): Promise<Response> {
    return fetch(this.apiUrl + path, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json', ...COOKIE_MODE },
      body: JSON.stringify(body),
    });
  }
}

export const isUnauthenticated = (error: unknown) => error instanceof UnauthenticatedError;
