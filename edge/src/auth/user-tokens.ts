import { SessionId } from '@meridian/protocol';
import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';

/** What the control plane's access tokens assert (control-plane/src/auth/access-tokens.ts). */
export interface UserClaims {
  userId: string;
  orgId: string;
  /** The login the token belongs to; refused once the control plane revokes it. */
  sessionId: string;
}

/** The control plane signs access tokens with EdDSA (Ed25519) only; anything else is refused. */
const ALGORITHMS = ['EdDSA'];
const AUDIENCE = 'meridian';

// One key set per control-plane URL and isolate: jose caches the keys (10 min) and refetches at most
// every 30 s when a token names a kid it has not seen (key rotation).
const keySets = new Map<string, JWTVerifyGetKey>();

function keySetFor(baseUrl: string): JWTVerifyGetKey {
  let keySet = keySets.get(baseUrl);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`));
    keySets.set(baseUrl, keySet);
  }
  return keySet;
}

/**
 * Verifies a user's access token: signature against the control plane's JWKS, issuer (the control
 * plane's public URL), audience and expiry. Undefined for any invalid token; ControlPlaneUnavailable when
 * the key set is needed and cannot be fetched.
 */
export async function verifyUserToken(
  env: Pick<Env, 'CONTROL_PLANE_URL'>,
  token: string,
): Promise<UserClaims | undefined> {
  const issuer = env.CONTROL_PLANE_URL.replace(/\/+$/, '');
  try {
    const { payload } = await jwtVerify(token, keySetFor(issuer), {
      algorithms: ALGORITHMS,
      issuer: [issuer, `${issuer}/`],
      audience: AUDIENCE,
      clockTolerance: 5,
    });
    const { sub, org, sid } = payload;
    if (typeof sub !== 'string' || typeof org !== 'string' || typeof payload.exp !== 'number')
      return undefined;
    // Checked here so a malformed id never reaches the control plane's session route.
    const session = SessionId.safeParse(sid);
    if (!session.success) return undefined;
    return { userId: sub, orgId: org, sessionId: session.data };
  } catch (err) {
    if (keySetUnreachable(err)) {
      throw new ControlPlaneUnavailable(
        `JWKS unavailable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (err instanceof errors.JOSEError) return undefined;
    throw err;
  }
}

/** A failure to get the key set (network, timeout, non-200, bad JSON) rather than a bad token. */
function keySetUnreachable(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return err instanceof TypeError || isAbort(err);
  // jose reports a non-200 key-set response as a bare JOSEError (ERR_JOSE_GENERIC).
  return (
    err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC'
  );
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
