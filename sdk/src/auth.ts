/** A user login: the access token, the refresh token that renews it, and when the access token expires. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** When to renew it instead of sending it (ms since the epoch); default 30 s before expiry. */
  refreshAt?: number;
}

/**
 * Where a login lives between calls (memory, a file, browser storage). Refresh tokens rotate on every use
 * and a reused one revokes the login, so a store shared by several processes provides `exclusive`: the
 * client refreshes inside it and first re-reads the store, in case another process refreshed meanwhile.
 */
export interface TokenStore {
  load(): Promise<Tokens | undefined>;
  save(tokens: Tokens | undefined): Promise<void>;
  exclusive?<T>(work: () => Promise<T>): Promise<T>;
}

/** A TokenStore for one process. */
export class MemoryTokenStore implements TokenStore {
  constructor(private tokens?: Tokens) {}
  async load() {
    return this.tokens;
  }
  async save(tokens: Tokens | undefined) {
    this.tokens = tokens;
  }
}

/** How long before expiry an access token is renewed rather than sent (a quarter of short lifetimes). */
export const REFRESH_MARGIN_MS = 30_000;

export const isFresh = (tokens: Tokens, now = Date.now()) =>
  (tokens.refreshAt ?? tokens.expiresAt - REFRESH_MARGIN_MS) > now;

/** Tokens from a login or refresh answer (`expiresIn` seconds from now). */
export function tokensFrom(pair: { accessToken: string; refreshToken: string; expiresIn: number }): Tokens {
  const now = Date.now();
  const lifetime = pair.expiresIn * 1000;
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    expiresAt: now + lifetime,
    refreshAt: now + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 4),
  };
}
