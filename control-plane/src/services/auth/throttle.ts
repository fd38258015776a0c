import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { loginThrottle } from '../../db/schema.js';
import { AppError } from '../../errors.js';

/** Every threshold of login and registration throttling; config.ts reads them from MERIDIAN_AUTH_* vars. */
export interface ThrottleSettings {
  /** Failures are counted in windows of this length. */
  windowMs: number;
  /** Attempts one address may make on one account in a window before it is locked out of it (the pair lock). */
  pairMaxFailures: number;
  /** Failures on one account (from any address) before each further attempt waits an exponential delay. */
  accountFreeFailures: number;
  /** Failures from one address (on any account) before each further attempt waits an exponential delay. */
  clientFreeFailures: number;
  /** The first delay; each further failure doubles it, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Registrations one address may make per `registrationWindowMs`. */
  registrationsPerClient: number;
  registrationWindowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  windowMs: 15 * 60_000,
  pairMaxFailures: 5,
  accountFreeFailures: 10,
  clientFreeFailures: 30,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  registrationsPerClient: 10,
  registrationWindowMs: 60 * 60_000,
};

/** Finished counters are deleted once every this many counted attempts. */
const PRUNE_EVERY = 500;

/** A counted login attempt: until `succeeded` it stands as a failure. */
export interface LoginClaim {
  succeeded(): Promise<void>;
}

type Counter = { key: string; windowMs: number } & (
  | { kind: 'cap'; max: number }
  | { kind: 'delay'; free: number }
);

/**
 * Login and registration throttling over counters in the database. Every attempt is counted by one atomic
 * upsert BEFORE the password is checked, and only an attempt the upsert admitted goes on: N parallel
 * guesses on one account from one address reach the password check at most `pairMaxFailures` times.
 *
 * - Pair (account, address): a hard cap per window. It locks out the address that guesses, not the owner,
 *   who logs in from another address.
 * - Account and address alone: no lock, an exponential delay between attempts once past a free count, so
 *   a distributed guesser gets at most one guess per `maxDelayMs` on an account and its owner waits no longer.
 */
export class AuthThrottle {
  private claims = 0;

  constructor(
    private readonly db: Database,
    private readonly settings: ThrottleSettings = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a login attempt, or throws 429 with Retry-After without counting it. */
  async claimLogin(email: string, clientIp: string | null): Promise<LoginClaim> {
    const s = this.settings;
    const pair: Counter = {
      key: `pair:${email}|${clientIp ?? '-'}`,
      windowMs: s.windowMs,
      kind: 'cap',
      max: s.pairMaxFailures,
    };
    const others: Counter[] = [
      { key: `account:${email}`, windowMs: s.windowMs, kind: 'delay', free: s.accountFreeFailures },
    ];
    if (clientIp)
      others.push({
        key: `client:${clientIp}`,
        windowMs: s.windowMs,
        kind: 'delay',
        free: s.clientFreeFailures,
      });
    await this.claim(pair);
    try {
      for (const counter of others) await this.claim(counter);
    } catch (err) {
      // The attempt never reached the password: it must not count against the pair.
      await this.db
        .update(loginThrottle)
        .set({ failures: sql`max(${loginThrottle.failures} - 1, 0)` })
        .where(eq(loginThrottle.key, pair.key));
      throw err;
    }
    return {
      succeeded: async () => {
        // The right password clears the account and the pair; the address keeps the rest of its count.
        await this.db.delete(loginThrottle).where(inArray(loginThrottle.key, [pair.key, `account:${email}`]));
        if (clientIp) {
          await this.db
            .update(loginThrottle)
            .set({ failures: sql`max(${loginThrottle.failures} - 1, 0)` })
            .where(eq(loginThrottle.key, `client:${clientIp}`));
        }
      },
    };
  }

  /** Counts a registration from the address, or throws 429 (no address, as in-process tests: no limit). */
  async claimRegistration(clientIp: string | null): Promise<void> {
    if (!clientIp) return;
    const s = this.settings;
    await this.claim({
      key: `register:${clientIp}`,
      windowMs: s.registrationWindowMs,
      kind: 'cap',
      max: s.registrationsPerClient,
    });
  }

  /**
   * One statement: a fresh row, a row whose window has passed (restarted), or a row that admits one more
   * attempt is counted and returned; otherwise nothing is written and nothing returned.
   */
  private async claim(counter: Counter): Promise<void> {
    // Guesses at made-up e-mails leave rows behind; every so often the finished ones go.
    this.claims += 1;
    if (this.claims % PRUNE_EVERY === 0) await this.prune();
    const now = this.now();
    const stale = now - counter.windowMs;
    const { baseDelayMs, maxDelayMs } = this.settings;
    // Failures after the increment, and the delay it earns: base * 2^(failures - free - 1), capped.
    const next = sql`(CASE WHEN ${loginThrottle.windowStartedAt} <= ${stale} THEN 1 ELSE ${loginThrottle.failures} + 1 END)`;
    const free = counter.kind === 'delay' ? counter.free : Number.MAX_SAFE_INTEGER;
    const delay = sql`(CASE WHEN ${next} > ${free} THEN min(${maxDelayMs}, ${baseDelayMs} << min(${next} - ${free} - 1, 30)) ELSE 0 END)`;
    const admits =
      counter.kind === 'cap'
        ? sql`${loginThrottle.failures} < ${counter.max}`
        : sql`coalesce(${loginThrottle.lockedUntil}, 0) <= ${now}`;
    const firstDelay = counter.kind === 'delay' && 1 > free ? Math.min(maxDelayMs, baseDelayMs) : 0;
    const rows = await this.db
      .insert(loginThrottle)
      .values({
        key: counter.key,
        failures: 1,
        windowStartedAt: new Date(now),
        lockedUntil: firstDelay ? new Date(now + firstDelay) : null,
      })
      .onConflictDoUpdate({
        target: loginThrottle.key,
        set: {
          failures: next,
          windowStartedAt: sql`(CASE WHEN ${loginThrottle.windowStartedAt} <= ${stale} THEN ${now} ELSE ${loginThrottle.windowStartedAt} END)`,
          lockedUntil: sql`${now} + ${delay}`,
        },
        setWhere: sql`${loginThrottle.windowStartedAt} <= ${stale} OR (${admits})`,
      })
      .returning({ failures: loginThrottle.failures });
    if (rows.length > 0) return;
    await this.refuse(counter, now);
  }

  /** Deletes counters whose window has passed and whose delay is over: they would restart from zero anyway. */
  private async prune(): Promise<void> {
    const now = this.now();
    const longest = Math.max(this.settings.windowMs, this.settings.registrationWindowMs);
    await this.db
      .delete(loginThrottle)
      .where(
        and(
          lt(loginThrottle.windowStartedAt, new Date(now - longest)),
          or(isNull(loginThrottle.lockedUntil), lt(loginThrottle.lockedUntil, new Date(now))),
        ),
      );
  }

  private async refuse(counter: Counter, now: number): Promise<never> {
    const [row] = await this.db.select().from(loginThrottle).where(eq(loginThrottle.key, counter.key));
    const until =
      counter.kind === 'cap'
        ? (row?.windowStartedAt.getTime() ?? now) + counter.windowMs
        : (row?.lockedUntil?.getTime() ?? now);
    const retryAfter = String(Math.max(1, Math.ceil((until - now) / 1000)));
    const message = counter.key.startsWith('register:')
      ? 'Too many registrations from this address; try again later'
      : 'Too many failed logins; try again later';
    throw new AppError('too_many_requests', message, undefined, { 'retry-after': retryAfter });
  }
}
