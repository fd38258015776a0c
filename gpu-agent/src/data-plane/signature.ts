import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { canonicalSigningString, type SignedRequestFields } from '@meridian/protocol';

type Fields = Omit<SignedRequestFields, 'bodySha256Hex'> & { body: Uint8Array };

// One pass over the body (a one-shot SHA-256, no Hash object per request), then the HMAC as raw bytes.
function edgeMac(key: Uint8Array, fields: Fields): Buffer {
  const bodySha256Hex = hash('sha256', fields.body, 'hex');
  return createHmac('sha256', key)
    .update(canonicalSigningString({ ...fields, bodySha256Hex }))
    .digest();
}

/** The agent's side of the edge signature: node:crypto, synchronous, ~4 µs (WebCrypto costs ~25× more). */
export function signEdgeRequest(key: Uint8Array, fields: Fields): string {
  return edgeMac(key, fields).toString('hex');
}

/** Whether `signature` (hex) is the HMAC of this request under `key`; compared in constant time. */
export function verifyEdgeSignature(key: Uint8Array, fields: Fields, signature: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(edgeMac(key, fields), Buffer.from(signature, 'hex'));
}
