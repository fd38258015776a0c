import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalSigningString, type SignedRequestFields } from '@meridian/protocol';

/** The agent's side of the edge signature: node:crypto, synchronous, ~4 µs (WebCrypto costs ~25× more). */
export function signEdgeRequest(
  key: Uint8Array,
  fields: Omit<SignedRequestFields, 'bodySha256Hex'> & { body: Uint8Array },
): string {
  const bodySha256Hex = createHash('sha256').update(fields.body).digest('hex');
  return createHmac('sha256', key)
    .update(canonicalSigningString({ ...fields, bodySha256Hex }))
    .digest('hex');
}

/** Whether `signature` (hex) is the HMAC of this request under `key`; compared in constant time. */
export function verifyEdgeSignature(
  key: Uint8Array,
  fields: Omit<SignedRequestFields, 'bodySha256Hex'> & { body: Uint8Array },
  signature: string,
): boolean {
  if (!/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = Buffer.from(signEdgeRequest(key, fields), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
