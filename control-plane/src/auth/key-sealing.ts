import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const FORMAT = 'kek1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 256-bit key-encryption key and its id (a digest prefix, so a sealed value names the key it needs). */
interface Kek {
  id: string;
  key: Buffer;
}

/** Parses a KEK given as 32 bytes in base64, base64url or hex; throws a readable error otherwise. */
export function parseKek(text: string, name: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64url');
  if (bytes.length !== 32) throw new Error(`${name} must be 32 bytes (base64, base64url or 64 hex digits)`);
  return bytes;
}

/**
 * Seals the access-token signing keys' private halves before they reach the database (AES-256-GCM, the
 * kid as associated data so a sealed value cannot be moved to another row), so the database alone, a copy or
 * a backup of it, holds no usable key. `current` seals; `previous` keys only open, which is how the KEK
 * itself is rotated: start with the new key current and the old one previous, and every row is re-sealed.
 */
export class KeySealer {
  private readonly current: Kek;
  private readonly byId = new Map<string, Kek>();

  constructor(current: Buffer, previous: Buffer[] = []) {
    this.current = kek(current);
    for (const k of [this.current, ...previous.map(kek)]) this.byId.set(k.id, k);
  }

  seal(kid: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(kid));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [FORMAT, this.current.id, iv.toString('base64url'), body.toString('base64url')].join(':');
  }

  /** The plaintext of a sealed value; throws when no known KEK opens it or it was tampered with. */
  open(kid: string, sealed: string): string {
    const [format, kekId, iv, body] = sealed.split(':');
    const k = kekId ? this.byId.get(kekId) : undefined;
    if (format !== FORMAT || !k || !iv || !body) {
      throw new Error(`signing key ${kid} is sealed with an unknown key-encryption key (${kekId ?? '?'})`);
    }
    const bytes = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', k.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(kid));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  }

  /** Whether `stored` must be (re-)sealed: plain JSON from before sealing, or sealed under a previous KEK. */
  needsSealing(stored: string): boolean {
    return !stored.startsWith(`${FORMAT}:${this.current.id}:`);
  }

  static isPlain(stored: string): boolean {
    return stored.trimStart().startsWith('{');
  }
}

function kek(key: Buffer): Kek {
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
}
