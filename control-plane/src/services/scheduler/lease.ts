import { and, eq, lt, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { leases } from '../../db/schema.js';

/**
 * A named lease in the database: whoever holds it unexpired is the only one acting under that name. The
 * holder renews it on every tick; when it dies, the lease expires and the next instance to try takes it.
 * Every write is one conditional statement, so two instances can never both believe they hold it.
 */
export class DatabaseLease {
  /** When this instance last renewed it, if it holds it. */
  private renewedAt: number | undefined;

  /**
   * `renewAfterMs`: a holder that renewed less than this long ago trusts its lease without writing (it still
   * has at least ttl − renewAfterMs of it); unset, every call renews.
   */
  constructor(
    private readonly db: Database,
    private readonly name: string,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly renewAfterMs = 0,
  ) {}

  /** Takes or renews the lease; true when this instance holds it until now + ttl. */
  async acquire(now = Date.now()): Promise<boolean> {
    const renewed = this.renewedAt;
    if (renewed !== undefined && now >= renewed && now - renewed < this.renewAfterMs) return true;
    this.renewedAt = undefined;
    const expiresAt = new Date(now + this.ttlMs);
    await this.db
      .insert(leases)
      .values({ name: this.name, holder: this.holder, expiresAt })
      .onConflictDoNothing();
    const taken = await this.db
      .update(leases)
      .set({ holder: this.holder, expiresAt })
      .where(
        and(
          eq(leases.name, this.name),
          or(eq(leases.holder, this.holder), lt(leases.expiresAt, new Date(now))),
        ),
      )
      .returning({ holder: leases.holder });
    if (taken.length !== 1) return false;
    this.renewedAt = now;
    return true;
  }

  /** Gives the lease up at once (a clean shutdown), so another instance need not wait for it to expire. */
  async release(): Promise<void> {
    this.renewedAt = undefined;
    await this.db
      .update(leases)
      .set({ expiresAt: new Date(0) })
      .where(and(eq(leases.name, this.name), eq(leases.holder, this.holder)));
  }
}
