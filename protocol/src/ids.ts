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
  experiment: 'exp',
  run: 'run',
  artifact: 'art',
  model: 'mdl',
  modelVersion: 'mdv',
  agent: 'agt',
  bootstrapToken: 'bst',
  deployment: 'dep',
  deploymentEvent: 'dpe',
  workload: 'wl',
  notebook: 'nb',
  notebookSession: 'nbs',
  alertRule: 'alr',
  alertSilence: 'als',
  alertEvent: 'ale',
  notificationChannel: 'nch',
  notificationDelivery: 'ndl',
  invitation: 'inv',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * Mints `<prefix>_<26 chars>`: 48 bits of milliseconds then 80 random bits (ULID layout), so ids sort by
 * creation time, which keyset pagination relies on. Plain number arithmetic: this runs on every request.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  // 16 random bytes, 5 bits used from each: 80 random bits.
  let tail = '';
  for (let i = 0; i < 16; i++) tail += ALPHABET.charAt(nextRandomByte() & 31);
  return `${ID_PREFIXES[kind]}_${encodeTime(now)}${tail}`;
}

/** The 10 time characters of an id minted at `ms`. */
function encodeTime(ms: number): string {
  let time = '';
  let rest = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET.charAt(rest % 32) + time;
    rest = Math.floor(rest / 32);
  }
  return time;
}

/**
 * A string that sorts at or below every id with `prefix` minted at `ms` or later, and above every one minted
 * earlier: a time bound a keyset query on ids can use.
 */
export function idFloorAt(prefix: string, ms: number): string {
  return `${prefix}_${encodeTime(ms)}`;
}

// One getRandomValues call per 256 ids instead of one per id: the call itself, not the bytes, is what costs.
const pool = new Uint8Array(4096);
let poolOffset = pool.length;
function nextRandomByte(): number {
  if (poolOffset >= pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++] ?? 0;
}

/** True when `value` looks like an id of `kind` (right prefix, right length, right alphabet). */
export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[${ALPHABET}]{26}$`).test(value);
}
