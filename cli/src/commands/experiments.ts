import { collect, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, table } from '../context.js';
import { requireExperiment } from '../resolve.js';

type RunDetail = Schema<'RunDetail'>;

/**
 * A metric value in a few characters: four significant digits, no trailing zeros (0.91234 → 0.9123);
 * whole numbers (a count of tokens, an epoch) as they are.
 */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** The latest value of every metric in one cell: `acc=0.9123, loss=0.31`, in the order given. */
export function metricSummary(points: readonly Pick<Schema<'MetricPoint'>, 'key' | 'value'>[]): string {
  return points.map((p) => `${p.key}=${formatValue(p.value)}`).join(', ');
}

/** An API time to the second (`2024-05-01T10:00:00Z`): the milliseconds only widen a column. */
export function shortTime(iso: string | null): string {
  return iso === null ? '' : iso.replace(/\.\d+Z$/, 'Z');
}

/** A run as a person reads it: what it is, when it ran, then its params, tags and latest metrics. */
export function runText(run: RunDetail, experimentName: string): string {
  const ended = run.endedAt === null ? '' : `, ended ${shortTime(run.endedAt)}`;
  const sections = [
    `${run.name} (${run.id}) in ${experimentName}: ${run.status}\nstarted ${shortTime(run.startedAt)}${ended}`,
  ];
  const params = Object.entries(run.params);
  if (params.length > 0) sections.push(table(['PARAM', 'VALUE'], params));
  const tags = Object.entries(run.tags);
  if (tags.length > 0) sections.push(table(['TAG', 'VALUE'], tags));
  if (run.metrics.length > 0)
    sections.push(
      table(
        ['METRIC', 'LATEST', 'STEP', 'TIME'],
        run.metrics.map((m) => [m.key, m.value, m.step, shortTime(m.timestamp)]),
      ),
    );
  if (run.modelVersions.length > 0)
    sections.push(
      `Model versions: ${run.modelVersions.map((v) => `${v.modelName} v${v.version}`).join(', ')}`,
    );
  return sections.join('\n\n');
}

export function experimentCommands(program: Command): void {
  const experiments = program
    .command('experiments')
    .description('Experiments: named groups of training runs with their params and metrics');
  experiments
    .command('list')
    .description('Experiments of the organisation, newest first')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/experiments'));
        ctx.print(items, () =>
          table(
            ['NAME', 'CREATED'],
            items.map((e) => [e.name, shortTime(e.createdAt)]),
          ),
        );
      }),
    );
  experiments
    .command('create <name>')
    .description('Create an experiment; its name is unique in the organisation')
    .option('--description <text>', 'what the experiment is for')
    .action(
      action(async (ctx, name: string, opts: { description?: string }) => {
        const created = await (await ctx.client()).request('post', '/v1/experiments', {
          body: { name, ...(opts.description === undefined ? {} : { description: opts.description }) },
        });
        ctx.print(created, () => `Created experiment ${created.name}`);
      }),
    );
  experiments
    .command('delete <name>')
    .description('Delete an experiment with all its runs, their params, metrics and artifacts')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const experiment = await requireExperiment(client, ref);
        await client.request('delete', '/v1/experiments/{id}', { path: { id: experiment.id } });
        ctx.print({ deleted: experiment.id }, () => `Deleted experiment ${experiment.name} and its runs`);
      }),
    );
}
