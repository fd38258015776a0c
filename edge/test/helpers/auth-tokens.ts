import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { CONTROL_PLANE_URL } from './auth-env.js';

/** An Ed25519 signing key like the control plane's, with its public half as a JWKS entry. */
export interface TestSigner {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newSigner(kid = `kid_${crypto.randomUUID().slice(0, 8)}`): Promise<TestSigner> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

/** An access token shaped like control-plane/src/auth/access-tokens.ts signs them. */
export function signAccessToken(
  signer: TestSigner,
  claims: { userId: string; orgId: string; sessionId?: string },
  options: { issuer?: string; audience?: string; expiresInSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ org: claims.orgId, sid: claims.sessionId ?? 'rtf_test' })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuer(options.issuer ?? CONTROL_PLANE_URL)
    .setAudience(options.audience ?? 'meridian')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 900))
    .sign(signer.privateKey);
}
