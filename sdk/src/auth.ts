/** A user login: the access token, the refresh token that renews it, and when the access token expires. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
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

/** Seconds before expiry at which an access token is renewed rather than sent. */
export const REFRESH_MARGIN_MS = 30_000;

export const isFresh = (tokens: Tokens, now = Date.now()) => tokens.expiresAt - REFRESH_MARGIN_MS > now;

/** Tokens from a login or refresh answer (`expiresIn` seconds from now). */
export function tokensFrom(pair: { accessToken: string; refreshToken: string; expiresIn: number }): Tokens {
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    expiresAt: Date.now() + pair.expiresIn * 1000,
  };
}
