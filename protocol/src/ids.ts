/** Type prefixes of every id Meridian mints; a prefix tells what an id names at a glance. */
export const ID_PREFIXES = {
  user: 'usr',
  org: 'org',
  membership: 'mem',
  apiKey: 'key',
  refreshFamily: 'rtf',
  refreshToken: 'rtk',
  signingKey: 'sig',
  audit: 'aud',
  request: 'req',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function encodeBase32(value: bigint, length: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(rest & 31n)] + out;
    rest >>= 5n;
  }
  return out;
}

/**
 * Mints `<prefix>_<26 chars>`: 48 bits of milliseconds then 80 random bits (ULID layout), so ids sort by
 * creation time, which keyset pagination relies on.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(10));
  let randomBits = 0n;
  for (const byte of random) randomBits = (randomBits << 8n) | BigInt(byte);
  return `${ID_PREFIXES[kind]}_${encodeBase32(BigInt(now), 10)}${encodeBase32(randomBits, 16)}`;
}

/** True when `value` looks like an id of `kind` (right prefix, right length, right alphabet). */
export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[${ALPHABET}]{26}$`).test(value);
}
