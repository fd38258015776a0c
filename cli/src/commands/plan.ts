import type { Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError } from '../context.js';

type PlanName = Schema<'PlanChange'>['plan'];
type Limits = Schema<'PlanChange'>['limits'];

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

export function planCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description('The organisation’s plan and its limits; `plan set pro|free` changes it')
    .action(
      action(async (ctx) => {
        const client = await ctx.client();
        // The org (any role may read it) names the plan; the public price list has each plan's fee and limits.
        const [org, pricing] = await Promise.all([
          client.request('get', '/v1/org'),
          client.request('get', '/v1/billing/pricing'),
        ]);
        const terms = (p: PlanName) => {
          const row = pricing.plans.find((r) => r.plan === p);
          return {
            monthlyFeeUsd: row?.monthlyFeeUsd ?? '0',
            limits: { monthlyCalls: row?.monthlyCalls ?? null, models: row?.models ?? null },
          };
        };
        const current = { orgId: org.id, plan: org.plan, ...terms(org.plan) };
        ctx.print(current, () => {
          const lines = [
            `${org.name} is on ${planTerms(current.plan, current.monthlyFeeUsd, current.limits)}`,
          ];
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
          return changed.previousPlan === changed.plan
            ? `Already on ${terms}`
            : `Moved from ${PLAN_NAMES[changed.previousPlan]} to ${terms}`;
        });
      }),
    );
}
