import { z } from '@hono/zod-openapi';
import { METERS, PLANS } from '@meridian/protocol';
import { ENTERPRISE_IS_CONTRACTED, SELF_SERVE_PLANS } from '../services/billing/plan.js';
import { GROUP_BYS } from '../services/billing/summary.js';

const DAY_MS = 86_400_000;
export const MAX_USAGE_RANGE_DAYS = 366;

const Usd = z.string().openapi({ description: 'US dollars as an exact decimal string', example: '12.345' });
const Meter = z.enum(METERS);
const INSTANT_FORMAT =
  'a date (2026-11-01, read as its UTC midnight) or an ISO 8601 date-time with an offset (2026-11-01T00:00:00Z)';
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    // zod's own "Invalid input" for a union says neither what was wrong nor what would do.
    error: (issue) =>
      typeof issue.input === 'string' && /^\d{4}-\d{2}-\d{2}/.test(issue.input)
        ? `is not a real date or time: must be ${INSTANT_FORMAT}`
        : `must be ${INSTANT_FORMAT}`,
  })
  .openapi({ description: 'An ISO 8601 date-time, or a date (its UTC midnight)', example: '2026-11-01' });

export const UsageQuery = z
  .object({
    from: Instant.optional().openapi({ description: 'Start; alone, the period runs to now' }),
    to: Instant.optional().openapi({
      description:
        'End (not included); alone, the period is the UTC calendar month up to it (2026-11-01: October)',
    }),
    groupBy: z.enum(GROUP_BYS).default('meter'),
  })
  .superRefine((q, ctx) => {
    // `to` alone starts its own month: never longer than the cap. `from` alone ends now.
    if (q.from === undefined) return;
    const given = q.to !== undefined;
    const path = given ? 'to' : 'from';
    const span = Date.parse(q.to ?? new Date().toISOString()) - Date.parse(q.from);
    if (!(span > 0))
      ctx.addIssue({
        code: 'custom',
        path: [path],
        message: given ? 'must be after from' : 'must be before now',
      });
    else if (span > MAX_USAGE_RANGE_DAYS * DAY_MS) {
      ctx.addIssue({
        code: 'custom',
        path: [path],
        message: given
          ? `at most ${MAX_USAGE_RANGE_DAYS} days after from`
          : `at most ${MAX_USAGE_RANGE_DAYS} days ago (to, left out, is now)`,
      });
    }
  });

export const PricingSchema = z
  .object({
    currency: z.literal('usd'),
    meters: z.array(
      z.object({
        meter: Meter,
        unit: z.string(),
        rawUnit: z.string(),
        usdPerUnit: Usd,
        description: z.string(),
      }),
    ),
    plans: z.array(
      z.object({
        plan: z.enum(PLANS),
        monthlyFeeUsd: Usd,
        monthlyCalls: z.number().int().nullable().openapi({ description: 'null: no platform limit' }),
        models: z.number().int().nullable().openapi({ description: 'null: no platform limit' }),
      }),
    ),
    rounding: z.string(),
  })
  .openapi('Pricing');

export const UsageSummarySchema = z
  .object({
    orgId: z.string(),
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(GROUP_BYS),
    lines: z.array(
      z.object({
        key: z.string().nullable().openapi({
          description: 'The meter, deployment id, notebook id (null: neither, e.g. storage) or UTC day',
        }),
        name: z.string().nullable().openapi({
          description:
            'By deployment or notebook: its name (null once deleted, and for the null key); null by meter or day',
        }),
        meter: Meter,
        rawQuantity: z.number(),
        rawUnit: z.string(),
        billableQuantity: z.number().int(),
        unit: z.string(),
        usdPerUnit: Usd,
        amountUsd: Usd,
      }),
    ),
    totalUsd: Usd,
    totalCents: z.number().int(),
  })
  .openapi('UsageSummary');

const SubscriptionRefusedSchema = z
  .object({
    at: z.string().openapi({ description: 'When Stripe refused it' }),
    summary: z.string().openapi({ description: 'What happened and how to try again, in sentences to show' }),
    type: z.string().openapi({ description: 'Stripe’s error type: invalid_request_error or card_error' }),
    code: z.string().nullable().openapi({ description: 'Stripe’s error code, e.g. resource_missing' }),
    declineCode: z.string().nullable().openapi({ description: 'A card error’s decline code' }),
    message: z.string().openapi({ description: 'Stripe’s message' }),
  })
  .nullable()
  .openapi('SubscriptionRefused', {
    description:
      'Set while Stripe has refused for good to start the organisation’s subscription (a deleted customer, an ' +
      'archived price, a card error): the request is not sent again until an owner chooses a plan ' +
      '(PUT /v1/billing/plan), the one the organisation is on included, when a new one is made. null ' +
      'otherwise, and once a subscription starts.',
  });

const UsageBackfillRefusedSchema = z
  .object({
    at: z.string().openapi({ description: 'When Stripe last refused one' }),
    summary: z
      .string()
      .openapi({ description: 'What was not billed, why, and how to try again, in sentences to show' }),
    type: z.string().openapi({ description: 'Stripe’s error type of the latest refusal' }),
    code: z.string().nullable().openapi({ description: 'Stripe’s error code, e.g. resource_missing' }),
    declineCode: z.string().nullable().openapi({ description: 'A card error’s decline code' }),
    message: z.string().openapi({ description: 'Stripe’s message' }),
    items: z.array(
      z.object({
        month: z.string().openapi({ description: 'The UTC month, YYYY-MM', example: '2026-11' }),
        meter: Meter,
        description: z.string().openapi({ description: 'The meter, quantity and month, as the item reads' }),
        amountUsd: z.string().openapi({ description: 'The item’s amount, in dollars and cents' }),
      }),
    ),
  })
  .nullable()
  .openapi('UsageBackfillRefused', {
    description:
      'Set while Stripe has refused for good the invoice items that bill usage of months no subscription ' +
      'covered (one per month and meter): they are not sent again until an owner chooses the plan the ' +
      'organisation is on (PUT /v1/billing/plan), when they are sent to its subscription as it is then. null ' +
      'otherwise.',
  });

export const BillingStatsSchema = z
  .object({
    orgId: z.string(),
    plan: z.enum(PLANS),
    periodStart: z.string(),
    periodEnd: z.string(),
    asOf: z.string(),
    calls: z.object({ used: z.number(), monthlyQuota: z.number().int().nullable() }),
    models: z.object({ count: z.number().int(), limit: z.number().int().nullable() }),
    spend: z.object({ baseFeeUsd: Usd, usageUsd: Usd, totalCents: z.number().int() }),
    subscriptionRefused: SubscriptionRefusedSchema,
    usageBackfillRefused: UsageBackfillRefusedSchema,
  })
  .openapi('BillingStats');

export const InvoiceSchema = z
  .object({
    orgId: z.string(),
    plan: z.enum(PLANS),
    periodStart: z.string(),
    periodEnd: z.string(),
    currency: z.literal('usd'),
    lines: z.array(
      z.object({
        description: z.string(),
        meter: Meter.nullable().openapi({ description: 'null: the plan’s monthly fee' }),
        quantity: z.number().int(),
        unit: z.string(),
        unitPriceUsd: Usd,
        amountUsd: Usd,
      }),
    ),
    subtotalUsd: Usd,
    totalCents: z.number().int().openapi({ description: 'The amount due: subtotalUsd in cents, half up' }),
    subscriptionRefused: SubscriptionRefusedSchema,
    usageBackfillRefused: UsageBackfillRefusedSchema,
  })
  .openapi('UpcomingInvoice');

export const PlanBody = z.strictObject({
  plan: z
    .enum(PLANS)
    .refine((plan) => (SELF_SERVE_PLANS as readonly string[]).includes(plan), ENTERPRISE_IS_CONTRACTED)
    .openapi({ description: 'free or pro; Enterprise is contracted and set by operators' }),
});

export const PlanChangeSchema = z
  .object({
    orgId: z.string(),
    plan: z.enum(PLANS),
    previousPlan: z.enum(PLANS),
    monthlyFeeUsd: Usd,
    limits: z.object({ monthlyCalls: z.number().int().nullable(), models: z.number().int().nullable() }),
    subscriptionRetried: z.boolean().openapi({
      description:
        'true when the plan chosen is the one the organisation is on and Stripe had refused to start its ' +
        'subscription (subscriptionRefused): billing tries again, with a new request built from the plan, on ' +
        'its next pass. false otherwise.',
    }),
    usageBackfillRetried: z.boolean().openapi({
      description:
        'true when the plan chosen is the one the organisation is on and Stripe had refused the invoice items of ' +
        'usage from before its subscription (usageBackfillRefused): billing sends them again, to the ' +
        'subscription the organisation has now, on its next pass. false otherwise.',
    }),
  })
  .openapi('PlanChange');
