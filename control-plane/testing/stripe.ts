import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { billingWindow, type Meter, newId, type Plan } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { type Database, openDatabase } from '../src/db/client.js';
import { billingCustomers, orgs, stripeOutbox } from '../src/db/schema.js';
import { createLogger } from '../src/lib/logger.js';
import { appendLedgerEntries } from '../src/services/billing/ledger.js';
import { eventNameFor } from '../src/services/billing/stripe/catalogue.js';
import type { StripeGateway } from '../src/services/billing/stripe/gateway.js';
import { StripeBilling, type StripeBillingOptions } from '../src/services/billing/stripe/runner.js';
import { SdkStripeGateway } from '../src/services/billing/stripe/sdk-gateway.js';
import { type StripeServerOptions, startStripeServer } from './stripe-server/server.js';

export const HOUR = 3_600_000;
export const TEST_STRIPE_KEY = 'sk_test_meridian_standin_000000000000';

/**
 * A real libsql database and the local Stripe stand-in (Stripe's API is unreachable here), joined by the real
 * SDK adapter. Backoff and timeouts are short so retries happen within a test.
 */
export async function createStripeTestbed(
  options: {
    server?: StripeServerOptions;
    timeoutMs?: number;
    /** Another database (a test app's) instead of a fresh one. */
    db?: Database;
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-stripe-'));
  const opened = options.db
    ? { db: options.db, close: () => {} }
    : await openDatabase(`file:${join(dir, 'test.db')}`);
  const { db } = opened;
  const server = await startStripeServer({ apiKey: TEST_STRIPE_KEY, ...options.server });
  const gateway = SdkStripeGateway.fromOptions({
    secretKey: TEST_STRIPE_KEY,
    apiUrl: server.url,
    timeoutMs: options.timeoutMs ?? 2_000,
  });
  const logLines: string[] = [];
  const logger = createLogger('debug', (line) => logLines.push(line));
  let ledgerSeq = 0;

  const testbed = {
    db,
    server,
    gateway,
    logger,
    logLines,
    /** A fresh runner, as a restarted process would build it. */
    runner: (overrides: Partial<StripeBillingOptions> & { gateway?: StripeGateway } = {}) =>
      new StripeBilling({
        db,
        gateway,
        logger,
        // The same instance each time, as a process restarting would be once its lease had expired.
        instanceId: 'test-runner',
        windowGraceMs: 0,
        backoff: { baseMs: 1, maxMs: 4 },
        ...overrides,
      }),
    async createOrg(plan: Plan = 'free', name = 'Acme') {
      const id = newId('org');
      await db.insert(orgs).values({ id, name, plan });
      return id;
    },
    /** One ledger entry; `id` defaults to a fresh one, pass the same id to replay it. */
    async addUsage(orgId: string, meter: Meter, quantity: number, at: number, id?: string) {
      ledgerSeq += 1;
      const entryId = id ?? `test:${ledgerSeq}`;
      await appendLedgerEntries(db, [
        {
          id: entryId,
          orgId,
          meter,
          quantity,
          windowStart: new Date(billingWindow(at)),
          occurredAt: new Date(at),
          source: 'edge',
          deploymentId: null,
          notebookId: null,
        },
      ]);
      return entryId;
    },
    async customerOf(orgId: string) {
      const [row] = await db.select().from(billingCustomers).where(eq(billingCustomers.orgId, orgId));
      if (!row) throw new Error(`no Stripe customer for ${orgId}`);
      return row.stripeCustomerId;
    },
    async subscriptionOf(orgId: string) {
      const [row] = await db.select().from(billingCustomers).where(eq(billingCustomers.orgId, orgId));
      if (!row?.subscriptionId) throw new Error(`no Stripe subscription for ${orgId}`);
      return row.subscriptionId;
    },
    /** The org's subscription items as the stand-in holds them: item id, price lookup key, metered or not. */
    async subscriptionItems(orgId: string) {
      const subscription = server.state.subscriptions.get(await testbed.subscriptionOf(orgId));
      const items = (subscription?.items as { data: Record<string, unknown>[] } | undefined)?.data ?? [];
      return items.map((item) => {
        const price = item.price as { lookup_key: string | null; recurring: { usage_type: string } | null };
        return {
          id: String(item.id),
          lookupKey: price.lookup_key,
          metered: price.recurring?.usage_type === 'metered',
        };
      });
    },
    /** Subscription updates Stripe applied to the org's subscription (a replayed key applies none). */
    async subscriptionUpdates(orgId: string) {
      const subscription = await testbed.subscriptionOf(orgId);
      return server.state.subscriptionUpdates.filter((u) => u.subscription === subscription);
    },
    /** What Stripe counts for the org on a meter. */
    async stripeTotal(orgId: string, meter: Meter) {
      return server.meterTotal(eventNameFor(meter), await testbed.customerOf(orgId));
    },
    async outbox(orgId: string) {
      return db
        .select()
        .from(stripeOutbox)
        .where(eq(stripeOutbox.orgId, orgId))
        .orderBy(stripeOutbox.identifier);
    },
    async cleanup() {
      await server.close();
      opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return testbed;
}

export type StripeTestbed = Awaited<ReturnType<typeof createStripeTestbed>>;

/** The start of the UTC hour `hoursAgo` hours before now. */
export const hourAgo = (hoursAgo: number, now = Date.now()) => billingWindow(now) - hoursAgo * HOUR;
