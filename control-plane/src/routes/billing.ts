import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../auth/permissions.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { upcomingInvoice } from '../services/billing/invoice.js';
import { changePlan } from '../services/billing/plan.js';
import { pricingCatalogue, ROUNDING_RULE } from '../services/billing/pricing.js';
import { billingStats } from '../services/billing/stats.js';
import { usageSummary } from '../services/billing/summary.js';
import {
  BillingStatsSchema,
  InvoiceSchema,
  MAX_USAGE_RANGE_DAYS,
  PlanBody,
  PlanChangeSchema,
  PricingSchema,
  UsageQuery,
  UsageSummarySchema,
} from './billing-schemas.js';
import type { RouteDeps } from './deps.js';

/** Prices (public), usage and spend as they accrue (owners, admins, `billing:read` keys), and the plan. */
export function billingRoutes(deps: RouteDeps) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['billing'] };
  const pricing = createRoute({
    method: 'get',
    path: '/v1/billing/pricing',
    operationId: 'getPricing',
    tags: ['billing'],
    summary: 'Public price list: meters and unit prices, plans with fees and limits, the rounding rule',
    security: [],
    responses: { 200: jsonContent(PricingSchema, 'The price list'), ...errors() },
  });
  const usage = createRoute({
    ...common,
    method: 'get',
    path: '/v1/billing/usage',
    operationId: 'getUsage',
    summary: 'Usage and its cost in a period, grouped by meter, deployment, notebook or UTC day',
    description:
      `Default period: the current UTC calendar month; \`from\` alone runs to now, \`to\` alone covers the UTC ` +
      `calendar month up to it; at most ${MAX_USAGE_RANGE_DAYS} days. Usage is kept ` +
      `per UTC hour; an hour counts when it starts in [from, to). ${ROUNDING_RULE} By deployment or ` +
      'notebook each group is rounded per hour on its own, so those lines can add up to slightly more than ' +
      'totalUsd, which is what is invoiced.',
    request: { query: UsageQuery },
    responses: { 200: jsonContent(UsageSummarySchema, 'Usage with amounts'), ...errors(401, 403) },
  });
  const stats = createRoute({
    ...common,
    method: 'get',
    path: '/v1/billing/stats',
    operationId: 'getBillingStats',
    summary: 'The month so far: calls against the quota, models against the plan, spend, current plan',
    responses: { 200: jsonContent(BillingStatsSchema, 'Month to date'), ...errors(401, 403) },
  });
  const invoice = createRoute({
    ...common,
    method: 'get',
    path: '/v1/billing/invoices/upcoming',
    operationId: 'getUpcomingInvoice',
    summary: 'This calendar month’s invoice so far: the plan’s fee and one line per meter',
    description: `${ROUNDING_RULE} Computed from the usage ledger; what Stripe invoices follows the same rule.`,
    responses: { 200: jsonContent(InvoiceSchema, 'The upcoming invoice'), ...errors(401, 403) },
  });
  const plan = createRoute({
    ...common,
    method: 'put',
    path: '/v1/billing/plan',
    operationId: 'setPlan',
    summary: 'Owners only: move the organisation to Free or Pro',
    description:
      'Enterprise is contracted and set by operators; an Enterprise org answers 409 here. After a downgrade ' +
      'everything stays; the lower limits apply to new models, and to calls once the edge re-reads the plan.',
    request: jsonBody(PlanBody),
    responses: { 200: jsonContent(PlanChangeSchema, 'The plan now'), ...errors(401, 403, 409) },
  });

  return newRouter()
    .openapi(pricing, (c) => c.json(pricingCatalogue(), 200))
    .openapi(usage, async (c) => {
      requirePermission(c.var.principal, 'billing:read');
      const { from, to, groupBy } = c.req.valid('query');
      const period = {
        ...(from ? { from: Date.parse(from) } : {}),
        ...(to ? { to: Date.parse(to) } : {}),
      };
      return c.json(await usageSummary(deps.db, { orgId: c.var.principal.orgId, groupBy, ...period }), 200);
    })
    .openapi(stats, async (c) => {
      requirePermission(c.var.principal, 'billing:read');
      return c.json(await billingStats(deps.db, c.var.principal.orgId), 200);
    })
    .openapi(invoice, async (c) => {
      requirePermission(c.var.principal, 'billing:read');
      return c.json(await upcomingInvoice(deps.db, c.var.principal.orgId), 200);
    })
    .openapi(plan, async (c) => c.json(await changePlan(deps.db, actorOf(c), c.req.valid('json').plan), 200));
}
