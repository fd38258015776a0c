import type { Command } from 'commander';
import { action, table } from '../context.js';

export function billingCommands(program: Command): void {
  program
    .command('usage')
    .description('Usage and its cost over a period (default: this month)')
    .option('--from <iso>', 'start (ISO 8601)')
    .option('--to <iso>', 'end (ISO 8601)')
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
            table(
              ['KEY', 'METER', 'QUANTITY', 'UNIT', 'USD'],
              usage.lines.map((l) => [l.key, l.meter, l.billableQuantity, l.unit, l.amountUsd]),
            ),
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
          ].join('\n'),
        );
      }),
    );
}
