import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session, type TestReply } from '../../testing/test-app.js';
import { loginThrottle } from '../db/schema.js';
import { AuthThrottle, DEFAULT_THROTTLE } from '../services/auth/throttle.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const PASSWORD = 'correct horse battery';

/** The control plane's own count of password checks, read from its Prometheus endpoint as a scraper would. */
async function passwordChecks(t: TestApp): Promise<number> {
  const res = await t.client.call('GET', '/metrics');
  const line = res.text.split('\n').find((l) => l.startsWith('meridian_cp_password_checks_total '));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

function login(t: TestApp, email: string, password: string, ip: string): Promise<TestReply> {
  return t.client.call('POST', '/v1/auth/login', {
    body: { email, password },
    headers: { 'x-forwarded-for': ip },
  });
}

describe('login throttling with the default thresholds', () => {
  let t: TestApp;
  let victim: Session;
  beforeAll(async () => {
    t = await createTestApp({ trustProxy: true });
    victim = await t.client.register('victim');
  });
  afterAll(() => t.cleanup());

  it('lets at most 5 of 150 parallel wrong guesses on one account reach the password check', async () => {
    const before = await passwordChecks(t);
    const replies = await Promise.all(
      Array.from({ length: 150 }, (_, i) => login(t, victim.email, `wrong guess ${i}`, '198.51.100.9')),
    );
    const checked = (await passwordChecks(t)) - before;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(5);
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(checked);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150 - checked);
    expect(statuses.filter((s) => s === 200)).toHaveLength(0);
  });

  it('keeps that address locked out of the account, with Retry-After, even with the right password', async () => {
    const locked = await login(t, victim.email, PASSWORD, '198.51.100.9');
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('too_many_requests');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
  });

  it('lets the owner in from a fresh address meanwhile', async () => {
    expect((await login(t, victim.email, PASSWORD, '192.0.2.44')).status).toBe(200);
  });

  it('does not slow other accounts behind the guessing address', async () => {
    const neighbour = await t.client.register('neighbour');
    expect((await login(t, neighbour.email, PASSWORD, '198.51.100.9')).status).toBe(200);
  });
});

describe('exponential delay per account and per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      trustProxy: true,
      throttle: { accountFreeFailures: 3, clientFreeFailures: 4, baseDelayMs: 2_000, maxDelayMs: 8_000 },
    });
  });
  afterAll(() => t.cleanup());

  it('makes guesses from many addresses wait a doubling delay, capped, and the owner no longer', async () => {
    const owner = await t.client.register('spread');
    for (let i = 0; i < 3; i++)
      expect((await login(t, owner.email, 'nope nope', `10.1.0.${i}`)).status).toBe(401);
    // The fourth failure is counted and earns a 2 s delay; the next attempt, from anywhere, waits it out.
    expect((await login(t, owner.email, 'nope nope', '10.1.0.3')).status).toBe(401);
    const early = await login(t, owner.email, PASSWORD, '10.1.0.99');
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await login(t, owner.email, 'nope nope', '10.1.0.4')).status).toBe(401);
    const doubled = await login(t, owner.email, PASSWORD, '10.1.0.99');
    expect(doubled.status).toBe(429);
    expect(Number(doubled.headers.get('retry-after'))).toBeGreaterThan(2);
    expect(Number(doubled.headers.get('retry-after'))).toBeLessThanOrEqual(4);
  });

  it('slows one address spraying many accounts, not the accounts from elsewhere', async () => {
    const target = await t.client.register('sprayed');
    for (let i = 0; i < 5; i++) await login(t, `spray-${i}@example.com`, 'guess guess', '203.0.113.7');
    expect((await login(t, target.email, PASSWORD, '203.0.113.7')).status).toBe(429);
    expect((await login(t, target.email, PASSWORD, '203.0.113.8')).status).toBe(200);
  });
});

describe('registration throttling and bounded password work', () => {
  it('refuses a fifth registration from one address in the window, not from another address', async () => {
    const t = await createTestApp({ trustProxy: true, throttle: { registrationsPerClient: 4 } });
    try {
      const register = (i: number, ip: string) =>
        t.client.call('POST', '/v1/auth/register', {
          body: { email: `reg-${i}@example.com`, password: PASSWORD, name: 'R' },
          headers: { 'x-forwarded-for': ip },
        });
      for (let i = 0; i < 4; i++) expect((await register(i, '198.51.100.20')).status).toBe(201);
      const fifth = await register(4, '198.51.100.20');
      expect(fifth.status).toBe(429);
      expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(3000);
      expect((await register(5, '198.51.100.21')).status).toBe(201);
    } finally {
      t.cleanup();
    }
  });

  it('answers a registration flood with early 429s while a login still gets through', async () => {
    // A costlier scrypt than other suites use (production's is 2^15 with p=3), so that waiting behind hashes shows.
    const t = await createTestApp({
      trustProxy: true,
      scrypt: { N: 2 ** 13, r: 8, p: 1 },
      passwordWork: { concurrency: 1, maxQueuedChecks: 4, maxQueuedHashes: 2 },
    });
    try {
      const owner = await t.client.register('steady');
      const timedLogin = async () => {
        const started = performance.now();
        const reply = await login(t, owner.email, PASSWORD, '192.0.2.1');
        return { reply, ms: performance.now() - started };
      };
      const alone = await timedLogin();
      expect(alone.reply.status).toBe(200);
      const flood = Array.from({ length: 40 }, (_, i) =>
        t.client.call('POST', '/v1/auth/register', {
          body: { email: `flood-${i}@example.com`, password: PASSWORD, name: 'F' },
          headers: { 'x-forwarded-for': `10.9.${i >> 8}.${i & 255}` },
        }),
      );
      const during = await timedLogin();
      const statuses = (await Promise.all(flood)).map((r) => r.status);
      expect(during.reply.status).toBe(200);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(30);
      expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
      // The login waits for the one hash already running, not for forty: about twice a lone login.
      expect(during.ms).toBeLessThan(4 * alone.ms + 1_000);
      const metrics = await t.client.call('GET', '/metrics');
      expect(metrics.text).toMatch(/meridian_cp_password_work_refused_total [1-9]/);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});

describe('throttle counters', () => {
  it('are pruned once their window and delay are over, so guesses at made-up e-mails leave nothing behind', async () => {
    const clock = { now: Date.now() };
    const t = await createTestApp();
    try {
      const throttle = new AuthThrottle(t.db, DEFAULT_THROTTLE, () => clock.now);
      for (let i = 0; i < 499; i++) await throttle.claimLogin(`made-up-${i}@example.com`, null);
      expect((await t.db.select().from(loginThrottle)).length).toBe(2 * 499);
      clock.now += 2 * 3_600_000;
      await throttle.claimLogin('one-more@example.com', null);
      expect((await t.db.select().from(loginThrottle)).map((r) => r.key)).toEqual([
        'pair:one-more@example.com|-',
        'account:one-more@example.com',
      ]);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
