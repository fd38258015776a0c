import type { GpuType, Meter, Plan } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// Billing: the append-only usage ledger, and what has been told to Stripe.

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

/**
 * Every billable fact, once. `id` is derived from the fact's source (`edge:<batchId>:<idx>`,
 * `agent:<agentId>:<seq>:<idx>`, `storage:<orgId>:<hour>`), so replaying a source changes nothing.
 * `quantity` is raw (calls, seconds, byte-hours); `windowStart` is the UTC hour the fact belongs to, however
 * late it arrives. Never updated, never deleted.
 */
export const ledgerEntries = sqliteTable(
  'ledger_entries',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    meter: text('meter').$type<Meter>().notNull(),
    quantity: real('quantity').notNull(),
    windowStart: integer('window_start', { mode: 'timestamp_ms' }).notNull(),
    occurredAt: integer('occurred_at', { mode: 'timestamp_ms' }).notNull(),
    source: text('source', { enum: ['edge', 'agent', 'storage'] }).notNull(),
    deploymentId: text('deployment_id'),
    notebookId: text('notebook_id'),
    recordedAt: createdAt(),
  },
  (t) => [
    index('ledger_org_window').on(t.orgId, t.windowStart),
    index('ledger_org_meter_window').on(t.orgId, t.meter, t.windowStart),
    index('ledger_recorded').on(t.recordedAt),
  ],
);

/**
 * Who each workload ran for, kept after the workload itself is gone: agents report usage by workload id,
 * sometimes after the scheduler has removed it, and the ledger still needs the org.
 */
export const workloadOwners = sqliteTable('workload_owners', {
  workloadId: text('workload_id').primaryKey(),
  orgId: text('org_id').notNull(),
  kind: text('kind', { enum: ['model', 'notebook'] }).notNull(),
  deploymentId: text('deployment_id'),
  notebookId: text('notebook_id'),
  gpuType: text('gpu_type').$type<GpuType>().notNull(),
  createdAt: createdAt(),
});

/** One Stripe customer (and metered subscription) per org. */
export const billingCustomers = sqliteTable('billing_customers', {
  orgId: text('org_id').primaryKey(),
  stripeCustomerId: text('stripe_customer_id').notNull().unique(),
  subscriptionId: text('subscription_id'),
  /**
   * The subscription creation under way and not yet answered, as JSON: its Idempotency-Key and the request first
   * sent under it. A retry resends exactly that request (Stripe refuses a key reused with other parameters), so
   * an anchor computed before midnight is not recomputed after it. Cleared once the subscription id is stored.
   */
  pendingSubscription: text('pending_subscription'),
  /**
   * Why Stripe last refused to start the org's subscription for good (a 4xx no retry changes), as JSON: the key
   * refused, Stripe's error type, code and message, and how many refusals so far (naming the next creation's
   * key). Cleared once a subscription starts, or once the plan needs none started.
   */
  subscriptionRefusal: text('subscription_refusal'),
  createdAt: createdAt(),
});

/** The Stripe meter and metered price of each Meridian meter, ensured once. */
export const stripeMeters = sqliteTable('stripe_meters', {
  meter: text('meter').$type<Meter>().primaryKey(),
  stripeMeterId: text('stripe_meter_id').notNull(),
  eventName: text('event_name').notNull(),
  priceId: text('price_id'),
});

/**
 * How much of each (org, meter, hour window) has been handed to the outbox. Late usage for a window already
 * pushed becomes a delta event with the next `revision` in its identifier.
 */
export const meterPushes = sqliteTable(
  'meter_pushes',
  {
    orgId: text('org_id').notNull(),
    meter: text('meter').$type<Meter>().notNull(),
    windowStart: integer('window_start', { mode: 'timestamp_ms' }).notNull(),
    pushedQuantity: integer('pushed_quantity').notNull(),
    revision: integer('revision').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.meter, t.windowStart] })],
);

/**
 * Meter events waiting for Stripe. `identifier` (the primary key) is fixed when the row is written, so a
 * retry after a crash or a timeout sends the same identifier and Stripe counts it once.
 */
export const stripeOutbox = sqliteTable(
  'stripe_outbox',
  {
    identifier: text('identifier').primaryKey(),
    orgId: text('org_id').notNull(),
    meter: text('meter').$type<Meter>().notNull(),
    windowStart: integer('window_start', { mode: 'timestamp_ms' }).notNull(),
    value: integer('value').notNull(),
    status: text('status', { enum: ['pending', 'sent'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }).notNull(),
    lastError: text('last_error'),
    createdAt: createdAt(),
    sentAt: integer('sent_at', { mode: 'timestamp_ms' }),
    /**
     * The Stripe customer a sent row went to (null while pending, and for rows sent before it was kept): when that
     * customer is replaced, its rows of the month are sent again to the new one (`resendToReplacement`).
     */
    customerId: text('customer_id'),
  },
  (t) => [index('stripe_outbox_due').on(t.status, t.nextAttemptAt)],
);

/**
 * Stripe webhook events already handled, so a redelivery changes nothing. An invoice event keeps its org and
 * invoice: which invoices failed and which were paid decide a suspension, whatever order Stripe delivers in.
 */
export const stripeWebhookEvents = sqliteTable(
  'stripe_webhook_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    orgId: text('org_id'),
    invoiceId: text('invoice_id'),
    receivedAt: createdAt(),
  },
  (t) => [index('stripe_webhook_events_org_invoice').on(t.orgId, t.invoiceId)],
);

/**
 * Plan changes Stripe has yet to be told about, written in the transaction that changes the org's plan (only for
 * orgs with a Stripe customer), or by reconciliation when a subscription's items disagree with the org's plan.
 * The runner makes the subscription's items match the org's plan as it reads then, so applying an org's newest
 * row settles its older ones; `id` orders them.
 */
export const stripePlanChanges = sqliteTable(
  'stripe_plan_changes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: text('org_id').notNull(),
    fromPlan: text('from_plan').$type<Plan>().notNull(),
    toPlan: text('to_plan').$type<Plan>().notNull(),
    /** `retry`: the owner chose the plan the org is on again, for a new try at a subscription Stripe refused. */
    reason: text('reason', { enum: ['plan_change', 'drift', 'retry'] }).notNull(),
    /** `refused`: settled without effect, Stripe having refused to start the subscription it needed. */
    status: text('status', { enum: ['pending', 'applied', 'refused'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }).notNull(),
    lastError: text('last_error'),
    createdAt: createdAt(),
    appliedAt: integer('applied_at', { mode: 'timestamp_ms' }),
  },
  (t) => [
    index('stripe_plan_changes_due').on(t.status, t.nextAttemptAt),
    index('stripe_plan_changes_org').on(t.orgId, t.status),
  ],
);

/**
 * Usage of an org's months before its Stripe subscription began that no subscription's period covered (a
 * creation refused or delayed across a month's end, a renewal months after the last one ended): billed as one
 * invoice item per month and meter on the new subscription's next invoice. Written in the transaction that
 * records the subscription; the primary key means a month's meter is billed once, whatever restarts or later
 * subscriptions come.
 */
export const stripeUsageBackfills = sqliteTable(
  'stripe_usage_backfills',
  {
    orgId: text('org_id').notNull(),
    /** The UTC month, `YYYY-MM`. */
    month: text('month').notNull(),
    meter: text('meter').$type<Meter>().notNull(),
    /** Billable units (THE rule, per hour window) of the month's hours no subscription covered. */
    quantity: integer('quantity').notNull(),
    amountCents: integer('amount_cents').notNull(),
    customerId: text('customer_id').notNull(),
    subscriptionId: text('subscription_id').notNull(),
    /** `refused`: Stripe refused the item for good (`isPermanentRefusal`); not sent again until an owner retries. */
    status: text('status', { enum: ['pending', 'sent', 'refused'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /**
     * Stripe's own 500s (`api_error`) answered to the item's requests: Stripe saves such an answer under the key
     * and replays it for a day, so the next attempt goes out under a key naming the count (`keyAfterServerErrors`).
     */
    serverErrors: integer('server_errors').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }).notNull(),
    lastError: text('last_error'),
    /**
     * Stripe's last refusal of the item for good, as `billing_customers.subscription_refusal` holds one (JSON,
     * `SubscriptionRefusal`): kept while a retry is sent, so the retry's key names it (`creationKeyAfter`).
     */
    refusal: text('refusal'),
    invoiceItemId: text('invoice_item_id'),
    createdAt: createdAt(),
    sentAt: integer('sent_at', { mode: 'timestamp_ms' }),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.month, t.meter] }),
    index('stripe_usage_backfills_due').on(t.status, t.nextAttemptAt),
  ],
);
