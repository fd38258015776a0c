import { randomBytes } from 'node:crypto';
import { newId } from '@meridian/protocol';
import { desc, eq, gt, isNull, or } from 'drizzle-orm';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Database } from '../db/client.js';
import { signingKeys } from '../db/schema.js';
import { KeySealer } from './key-sealing.js';

export const SIGNING_ALG = 'EdDSA';

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey;
  privateKey: CryptoKey | undefined;
  retiredAt: Date | null;
}

/** What a retired key's private half is replaced with: nothing signs with it again. */
const WIPED = 'retired';

/**
 * The keys that sign and verify access tokens. One key signs at a time; rotation adds a new signer and
 * retires the old one, which stays published and accepted until every token it signed has expired, so
 * rotation logs nobody out. The signer's private half is stored sealed (KeySealer); a retired key's is wiped.
 */
export class SigningKeyStore {
  private keys = new Map<string, LoadedKey>();
  private active: LoadedKey | undefined;
  private lastReload = 0;
  private activeCreatedAt = 0;
  private readonly sealer: KeySealer;
  private readonly now: () => number;

  /**
   * `sealer` holds the key-encryption key (main.ts: from the environment or a 0600 file). Without one, a
   * key made for this process alone seals: the signer then does not outlive the process (the next start
   * rotates, and tokens already issued keep verifying by their public keys).
   */
  constructor(
    private readonly db: Database,
    private readonly accessTokenTtlMs: number,
    options: { sealer?: KeySealer; now?: () => number } = {},
  ) {
    this.sealer = options.sealer ?? new KeySealer(randomBytes(32));
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads published keys, seals private halves still stored in plain text (written before sealing) or under
   * a previous KEK, wipes retired keys' private halves, and creates a signer if none can be opened.
   */
  async init(): Promise<void> {
    await this.sealStored();
    await this.reload();
    if (!this.active) await this.rotate();
  }

  private async sealStored(): Promise<void> {
    const rows = await this.db.select().from(signingKeys);
    for (const row of rows) {
      if (row.retiredAt) {
        if (row.privateJwk !== WIPED) {
          await this.db.update(signingKeys).set({ privateJwk: WIPED }).where(eq(signingKeys.kid, row.kid));
        }
        continue;
      }
      if (!this.sealer.needsSealing(row.privateJwk)) continue;
      const plain = this.openPrivate(row.kid, row.privateJwk);
      // A key sealed under a KEK this process does not have cannot be re-sealed: it is left for `rotate`.
      if (plain === undefined) continue;
      await this.db
        .update(signingKeys)
        .set({ privateJwk: this.sealer.seal(row.kid, plain) })
        .where(eq(signingKeys.kid, row.kid));
    }
  }

  private openPrivate(kid: string, stored: string): string | undefined {
    if (KeySealer.isPlain(stored)) return stored;
    try {
      return this.sealer.open(kid, stored);
    } catch {
      return undefined;
    }
  }

  /** Makes a fresh key the signer and retires the previous one. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
      crv: 'Ed25519',
      extractable: true,
    });
    const kid = newId('signingKey');
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    const privateJwk = await exportJWK(privateKey);
    await this.db.transaction(async (tx) => {
      await tx
        .update(signingKeys)
        .set({ retiredAt: new Date(this.now()), privateJwk: WIPED })
        .where(isNull(signingKeys.retiredAt));
      await tx.insert(signingKeys).values({
        kid,
        alg: SIGNING_ALG,
        publicJwk: JSON.stringify(publicJwk),
        privateJwk: this.sealer.seal(kid, JSON.stringify(privateJwk)),
        createdAt: new Date(this.now()),
      });
    });
    await this.reload();
    return kid;
  }

  /** Age of the signing key in milliseconds, for scheduled rotation. */
  activeKeyAgeMs(): number {
    return this.active ? this.now() - this.activeCreatedAt : Number.POSITIVE_INFINITY;
  }

  signer(): { kid: string; key: CryptoKey } {
    if (!this.active?.privateKey) throw new Error('signing keys not initialised');
    return { kid: this.active.kid, key: this.active.privateKey };
  }

  /** Public key for `kid`; an unknown kid triggers at most one reload per second (another instance may have rotated). */
  async publicKey(kid: string): Promise<CryptoKey | undefined> {
    const known = this.keys.get(kid);
    if (known) return this.isPublished(known) ? known.publicKey : undefined;
    if (this.now() - this.lastReload < 1000) return undefined;
    await this.reload();
    const reloaded = this.keys.get(kid);
    return reloaded && this.isPublished(reloaded) ? reloaded.publicKey : undefined;
  }

  /** The JWKS document: the signer plus retired keys whose tokens may still be live. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].filter((k) => this.isPublished(k)).map((k) => k.publicJwk) };
  }

  private isPublished(key: LoadedKey): boolean {
    // A minute of slack covers clock skew between instances.
    return key.retiredAt === null || key.retiredAt.getTime() + this.accessTokenTtlMs + 60_000 > this.now();
  }

  /**
   * Re-reads the keys, so an instance picks up a rotation made by another; main.ts calls it every minute.
   * A retired key stays published for the access-token lifetime plus a minute, which covers tokens this
   * instance signed with it before it noticed.
   */
  refresh(): Promise<void> {
    return this.reload();
  }

  private async reload(): Promise<void> {
    this.lastReload = this.now();
    const horizon = new Date(this.now() - this.accessTokenTtlMs - 60_000);
    const rows = await this.db
      .select()
      .from(signingKeys)
      .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.retiredAt, horizon)))
      .orderBy(desc(signingKeys.createdAt));
    const next = new Map<string, LoadedKey>();
    this.active = undefined;
    for (const row of rows) {
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      const privateText = row.retiredAt ? undefined : this.openPrivate(row.kid, row.privateJwk);
      const loaded: LoadedKey = {
        kid: row.kid,
        publicJwk,
        publicKey: (await importJWK(publicJwk, row.alg)) as CryptoKey,
        privateKey: privateText
          ? ((await importJWK(JSON.parse(privateText) as JWK, row.alg)) as CryptoKey)
          : undefined,
        retiredAt: row.retiredAt,
      };
      next.set(row.kid, loaded);
      if (loaded.privateKey && !this.active) {
        this.active = loaded;
        this.activeCreatedAt = row.createdAt.getTime();
      }
    }
    this.keys = next;
  }
}
