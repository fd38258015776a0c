import { canonicalSigningString, SIGNATURE_HEADERS, toHex } from '@meridian/protocol';

const encoder = new TextEncoder();

// The HMAC key, imported once per isolate; a different secret (a rotation) imports again.
let imported: { secret: string; key: Promise<CryptoKey> } | undefined;

function hmacKey(secret: string): Promise<CryptoKey> {
  if (imported?.secret !== secret) {
    const key = crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    imported = { secret, key };
  }
  return imported.key;
}

/** Hex SHA-256 of a body: computed once per request, signed again on every attempt. */
export async function sha256Hex(body: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', body)));
}

/**
 * The signature headers of one attempt (the agent's side: gpu-agent/src/data-plane/auth.ts). The
 * timestamp is taken per attempt, so a retry after a slow timeout still falls inside the agent's window.
 */
export async function signatureHeaders(
  secret: string,
  request: { method: string; target: string; bodySha256Hex: string; deploymentId: string },
  nowMs: number = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowMs / 1000);
  const text = canonicalSigningString({ ...request, timestamp });
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(text));
  return {
    [SIGNATURE_HEADERS.deployment]: request.deploymentId,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: toHex(new Uint8Array(mac)),
  };
}
