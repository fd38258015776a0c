import { ForbiddenError, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError } from '../context.js';

type PlanName = Schema<'PlanChange'>['plan'];
type Limits = Schema<'PlanChange'>['limits'];
type Stats = Schema<'BillingStats'>;

/** The plans an owner may choose here; Enterprise is contracted, and operators set it. */
export const SELF_SERVE_PLANS = ['free', 'pro'] as const satisfies readonly PlanName[];

const PLAN_NAMES: Record<PlanName, string> = { free: 'Free', pro: 'Pro', enterprise: 'Enterprise' };

/** A plan `plan set` takes, or a usage error that says which do (and why Enterprise is not one). */
export function parsePlan(value: string): (typeof SELF_SERVE_PLANS)[number] {
  const plan = SELF_SERVE_PLANS.find((p) => p === value);
  if (plan) return plan;
  if (value === 'enterprise')
    throw new CliError('Enterprise is contracted: ask your account manager, and an operator will set it', 2);
  throw new CliError(`Unknown plan ${value}: a plan is one of ${SELF_SERVE_PLANS.join(', ')}`, 2);
}

const count = (n: number, one: string, many: string) =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** `Pro: $199 a month, 100,000 calls a month, 10 models`: a plan's fee and limits in words. */
export function planTerms(plan: PlanName, monthlyFeeUsd: string, limits: Limits): string {
  const fee = plan === 'enterprise' ? 'contracted' : `$${monthlyFeeUsd} a month`;
  const calls =
    limits.monthlyCalls === null ? 'no call quota' : `${count(limits.monthlyCalls, 'call', 'calls')} a month`;
  const models = limits.models === null ? 'no model limit' : count(limits.models, 'model', 'models');
  return `${PLAN_NAMES[plan]}: ${fee}, ${calls}, ${models}`;
}

/** `This month: 1,234 of 100,000 calls (1%), 3 of 10 models, $201.40 so far`: the month to date in words. */
export function monthSoFar(stats: Stats): string {
  const { used, monthlyQuota } = stats.calls;
  const calls =
    monthlyQuota === null
      ? count(used, 'call', 'calls')
      : `${used.toLocaleString('en-US')} of ${count(monthlyQuota, 'call', 'calls')} (${percent(used, monthlyQuota)})`;
  const { count: models, limit } = stats.models;
  const modelText =
    limit === null ? count(models, 'model', 'models') : `${models} of ${count(limit, 'model', 'models')}`;
  const spend = (stats.spend.totalCents / 100).toFixed(2);
  return `This month: ${calls}, ${modelText}, $${spend} so far`;
}

/**
 * What Stripe refused, and since when, as the API words it: the subscription (`subscriptionRefused`) or the
 * invoice items of usage from before it (`usageBackfillRefused`).
 */
export function refusalLine(
  refused: NonNullable<Stats['subscriptionRefused']> | NonNullable<Stats['usageBackfillRefused']>,
): string {
  return `${refused.summary} (refused ${refused.at})`;
}

/** Every refusal standing in what the API answered, a line each. */
export const refusalLines = (answer: Pick<Stats, 'subscriptionRefused' | 'usageBackfillRefused'>) =>
  [answer.subscriptionRefused, answer.usageBackfillRefused].flatMap((r) => (r ? [refusalLine(r)] : []));

// Floored, so a quota reads 100% only once it is spent.
const percent = (used: number, quota: number) =>
  quota === 0 ? '100%' : `${Math.min(100, Math.floor((used / quota) * 100))}%`;

export function planCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description('The organisation’s plan and its limits; `plan set pro|free` changes it')
    .action(
      action(async (ctx) => {
        const client = await ctx.client();
        // The org (any role may read it) names the plan; the public price list has each plan's fee and limits.
        // The month so far needs billing:read (owners and admins); other roles still see the plan.
        const [org, pricing, stats] = await Promise.all([
          client.request('get', '/v1/org'),
          client.request('get', '/v1/billing/pricing'),
          client.request('get', '/v1/billing/stats').catch((err: unknown) => {
            if (err instanceof ForbiddenError) return null;
            throw err;
          }),
        ]);
        const terms = (p: PlanName) => {
          const row = pricing.plans.find((r) => r.plan === p);
          return {
            monthlyFeeUsd: row?.monthlyFeeUsd ?? '0',
            limits: { monthlyCalls: row?.monthlyCalls ?? null, models: row?.models ?? null },
          };
        };
        const current = { orgId: org.id, plan: org.plan, ...terms(org.plan), monthToDate: stats };
        ctx.print(current, () => {
          const lines = [
            `${org.name} is on ${planTerms(current.plan, current.monthlyFeeUsd, current.limits)}`,
            stats ? monthSoFar(stats) : 'This month: owners and admins can see its use (meridian usage)',
          ];
          if (stats) lines.push(...refusalLines(stats));
          const others = SELF_SERVE_PLANS.filter((p) => p !== org.plan);
          if (org.plan !== 'enterprise')
            for (const other of others) {
              const t = terms(other);
              lines.push(
                `Change it (owners): meridian plan set ${other}  (${planTerms(other, t.monthlyFeeUsd, t.limits)})`,
              );
            }
          return lines.join('\n');
        });
      }),
    );
  plan
    .command('set <plan>')
    .description('Move the organisation to free or pro (owners and admin keys; Enterprise is contracted)')
    .action(
      action(async (ctx, value: string) => {
        const chosen = parsePlan(value);
        const changed = await (await ctx.client()).request('put', '/v1/billing/plan', {
          body: { plan: chosen },
        });
        ctx.print(changed, () => {
          const terms = planTerms(changed.plan, changed.monthlyFeeUsd, changed.limits);
          if (changed.previousPlan !== changed.plan)
            return `Moved from ${PLAN_NAMES[changed.previousPlan]} to ${terms}`;
          return changed.subscriptionRetried
            ? `Already on ${terms}. Billing tries again to start the subscription Stripe refused; meridian plan shows whether it did.`
            : `Already on ${terms}`;
        });
      }),
    );
}
