import { type Schema, usageLineSubject } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, table } from '../context.js';
import { refusalLines } from './plan.js';

type UsageLine = Schema<'UsageSummary'>['lines'][number];

/** By meter the meter is the line; otherwise a first column named for the grouping. */
export function usageTable(groupBy: Schema<'UsageSummary'>['groupBy'], lines: UsageLine[]): string {
  const amounts = (l: UsageLine) => [l.billableQuantity, l.unit, l.amountUsd];
  if (groupBy === 'meter')
    return table(
      ['METER', 'QUANTITY', 'UNIT', 'USD'],
      lines.map((l) => [l.meter, ...amounts(l)]),
    );
  const first = groupBy === 'day' ? 'DAY (UTC)' : groupBy.toUpperCase();
  return table(
    [first, 'METER', 'QUANTITY', 'UNIT', 'USD'],
    lines.map((l) => [groupBy === 'day' ? l.key : usageLineSubject(groupBy, l), l.meter, ...amounts(l)]),
  );
}

export function billingCommands(program: Command): void {
  program
    .command('usage')
    .description('Usage and its cost over a period (default: this month)')
    .option('--from <iso>', 'start (ISO 8601); alone, the period runs to now')
    .option('--to <iso>', 'end (ISO 8601, not included); alone, the period is its UTC month up to it')
    .option('--group-by <by>', 'meter | deployment | notebook | day', 'meter')
    .action(
      action(async (ctx, opts: { from?: string; to?: string; groupBy: string }) => {
        const usage = await (await ctx.client()).request('get', '/v1/billing/usage', {
          query: {
            groupBy: opts.groupBy as 'meter',
            ...(opts.from ? { from: opts.from } : {}),
            ...(opts.to ? { to: opts.to } : {}),
          },
        });
        ctx.print(usage, () =>
          [
            `${usage.from} → ${usage.to}`,
            usageTable(usage.groupBy, usage.lines),
            `total: $${usage.totalUsd}`,
          ].join('\n'),
        );
      }),
    );
  program
    .command('invoice')
    .description('The upcoming invoice of the organisation')
    .action(
      action(async (ctx) => {
        const invoice = await (await ctx.client()).request('get', '/v1/billing/invoices/upcoming');
        ctx.print(invoice, () =>
          [
            `${invoice.plan} plan, ${invoice.periodStart} → ${invoice.periodEnd}`,
            table(
              ['DESCRIPTION', 'QUANTITY', 'UNIT', 'USD'],
              invoice.lines.map((l) => [l.description, l.quantity, l.unit, l.amountUsd]),
            ),
            `total: $${(invoice.totalCents / 100).toFixed(2)} (subtotal $${invoice.subtotalUsd})`,
            ...refusalLines(invoice),
          ].join('\n'),
        );
      }),
    );
}
