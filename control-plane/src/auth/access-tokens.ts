import { newId } from '@meridian/protocol';
import { type CryptoKey, type JWTHeaderParameters, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { SIGNING_ALG, type SigningKeyStore } from './signing-keys.js';

export const ACCESS_TOKEN_AUDIENCE = 'meridian';

/** What an access token asserts: who, in which org, for which login (refresh family). */
export interface AccessClaims {
  userId: string;
  orgId: string;
  sessionId: string;
}

/** Verified tokens kept so a warm caller costs a map lookup, not a signature check. */
const VERIFIED_CACHE_SIZE = 10_000;

export class AccessTokens {
  private verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();

  constructor(
    private readonly keys: SigningKeyStore,
    private readonly issuer: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get ttl(): number {
    return this.ttlSeconds;
  }

  async sign(claims: AccessClaims): Promise<string> {
    const { kid, key } = this.keys.signer();
    return new SignJWT({ org: claims.orgId, sid: claims.sessionId })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(Math.floor(this.now() / 1000))
      .setJti(newId('request'))
      .setExpirationTime(Math.floor(this.now() / 1000) + this.ttlSeconds)
      .sign(key);
  }

  /**
   * Verifies signature (EdDSA only: `none` and HMAC confusion are refused), issuer, audience and expiry.
   * Returns undefined for any token that is not valid; never throws for bad input.
   */
  async verify(token: string): Promise<AccessClaims | undefined> {
    // A token string verifies the same way until it expires; its signing key stays published that long.
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.expiresAtMs > this.now()) return cached.claims;
      this.verified.delete(token);
    }
    const claims = await this.verifyUncached(token);
    if (claims) this.remember(token, claims.claims, claims.expiresAtMs);
    return claims?.claims;
  }

  private remember(token: string, claims: AccessClaims, expiresAtMs: number) {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { claims, expiresAtMs });
  }

  private async verifyUncached(
    token: string,
  ): Promise<{ claims: AccessClaims; expiresAtMs: number } | undefined> {
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: [SIGNING_ALG],
        issuer: this.issuer,
        audience: ACCESS_TOKEN_AUDIENCE,
        clockTolerance: 5,
        currentDate: new Date(this.now()),
      });
      const { sub, org, sid, exp, iat } = payload;
      if (typeof sub !== 'string' || typeof org !== 'string' || typeof sid !== 'string') return undefined;
      if (typeof exp !== 'number' || typeof iat !== 'number') return undefined;
      // No token this service signs lives longer than the TTL: a longer one was not made here.
      if (exp - iat > this.ttlSeconds + 60) return undefined;
      return { claims: { userId: sub, orgId: org, sessionId: sid }, expiresAtMs: exp * 1000 };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
  }

  private async keyFor(header: JWTHeaderParameters): Promise<CryptoKey> {
    const key = header.kid ? await this.keys.publicKey(header.kid) : undefined;
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key;
  }
}
