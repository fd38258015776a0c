import { eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { loginThrottle } from '../../db/schema.js';
import { AppError } from '../../errors.js';

/** Failures allowed in a window before a key is locked out, per account and per client address. */
export const THROTTLE = {
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  perAccount: 5,
  perClient: 20,
};

export function throttleKeys(email: string, clientIp: string | null): { key: string; max: number }[] {
  const keys = [{ key: `account:${email}`, max: THROTTLE.perAccount }];
  if (clientIp) keys.push({ key: `client:${clientIp}`, max: THROTTLE.perClient });
  return keys;
}

/** Throws 429 with Retry-After while any of the keys is locked. */
export async function assertNotThrottled(db: Database, keys: { key: string }[], now: number): Promise<void> {
  const rows = await db
    .select()
    .from(loginThrottle)
    .where(
      inArray(
        loginThrottle.key,
        keys.map((k) => k.key),
      ),
    );
  const lockedUntil = Math.max(0, ...rows.map((r) => r.lockedUntil?.getTime() ?? 0));
  if (lockedUntil > now) {
    const retryAfter = String(Math.ceil((lockedUntil - now) / 1000));
    throw new AppError('too_many_requests', 'Too many failed logins; try again later', undefined, {
      'retry-after': retryAfter,
    });
  }
}

/** Counts a failure against each key; the one that reaches its maximum gets locked. */
export async function recordLoginFailure(db: Database, keys: { key: string; max: number }[], now: number) {
  for (const { key, max } of keys) {
    const [row] = await db.select().from(loginThrottle).where(eq(loginThrottle.key, key));
    const fresh = !row || now - row.windowStartedAt.getTime() > THROTTLE.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    const values = {
      failures,
      windowStartedAt: fresh ? new Date(now) : row.windowStartedAt,
      lockedUntil: failures >= max ? new Date(now + THROTTLE.lockMs) : null,
    };
    await db
      .insert(loginThrottle)
      .values({ key, ...values })
      .onConflictDoUpdate({ target: loginThrottle.key, set: values });
  }
}

/** A successful login clears the account's counter (not the client's: one good password proves nothing about the rest). */
export async function clearAccountFailures(db: Database, email: string): Promise<void> {
  await db.delete(loginThrottle).where(eq(loginThrottle.key, `account:${email}`));
}
