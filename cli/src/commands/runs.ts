import { collect, type MeridianClient, NotFoundError, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';
import { requireExperiment } from '../resolve.js';
import { metricSummary, runText, shortTime } from './experiments.js';

type Run = Schema<'Run'>;
type RunDetail = Schema<'RunDetail'>;

// Listed so that a typo is refused before any call; typed against the API's enum both ways, as in alerts.ts.
const STATUSES = ['running', 'finished', 'failed', 'killed'] as const satisfies readonly Run['status'][];
const everyStatusListed: [Exclude<Run['status'], (typeof STATUSES)[number]>] extends [never] ? true : never =
  true;
void everyStatusListed;

const RUN_ID = /^run_[0-9a-z]{26}$/;
const getRun = (client: MeridianClient, id: string): Promise<RunDetail> =>
  client.request('get', '/v1/runs/{id}', { path: { id } });

/**
 * A run by id (run_…), or by name in one experiment or, without one, in every experiment: run names need
 * not be unique, so a name several runs share is refused with their ids rather than one shown at random.
 */
async function requireRun(client: MeridianClient, ref: string, experimentRef?: string): Promise<RunDetail> {
  if (RUN_ID.test(ref)) {
    try {
      return await getRun(client, ref);
    } catch (err) {
      if (err instanceof NotFoundError) throw new CliError(`No run ${ref}`);
      throw err;
    }
  }
  const experiments = experimentRef
    ? [await requireExperiment(client, experimentRef)]
    : await collect(client.list('/v1/experiments'));
  const matches: { run: Run; experiment: string }[] = [];
  for (const experiment of experiments) {
    for await (const run of client.list('/v1/experiments/{id}/runs', { path: { id: experiment.id } }))
      if (run.name === ref) matches.push({ run, experiment: experiment.name });
  }
  const where = experimentRef ? ` in experiment ${experimentRef}` : '';
  const [only, ...others] = matches;
  if (!only) throw new CliError(`No run named ${ref}${where} (meridian runs list EXPERIMENT)`);
  if (others.length > 0) {
    const which = matches.map((m) => `${m.run.id} in ${m.experiment}, started ${shortTime(m.run.startedAt)}`);
    throw new CliError(
      `${matches.length} runs are named ${ref}${where} (${which.join('; ')}): give the id of the one you mean`,
    );
  }
  return getRun(client, only.run.id);
}

/**
 * A run as `--run` names it: its id, `EXPERIMENT/RUN-NAME`, or a run name alone (looked for in every
 * experiment), each resolved as `runs show` resolves runs. Names may hold `/` themselves: the experiment is
 * the longest part before a `/` that names one, and with none, the whole reference is taken as a run name.
 */
export async function requireRunRef(client: MeridianClient, ref: string): Promise<RunDetail> {
  if (RUN_ID.test(ref) || !ref.includes('/')) return requireRun(client, ref);
  const names = new Set((await collect(client.list('/v1/experiments'))).map((e) => e.name));
  for (let at = ref.lastIndexOf('/'); at > 0; at = ref.lastIndexOf('/', at - 1)) {
    const experiment = ref.slice(0, at);
    if (names.has(experiment)) return requireRun(client, ref.slice(at + 1), experiment);
  }
  return requireRun(client, ref);
}

const EXPERIMENT_OPTION = [
  '-e, --experiment <name>',
  'look for a run named <run> in this experiment only (default: in every experiment)',
] as const;

export function runCommands(program: Command): void {
  const runs = program
    .command('runs')
    .description('Training runs of an experiment: their params, tags and metric histories');
  runs
    .command('list <experiment>')
    .description('Runs of an experiment, newest first, with the latest value of each metric')
    .option('--status <status>', `only runs in this state: ${STATUSES.join(' | ')}`)
    .action(
      action(async (ctx, experimentRef: string, opts: { status?: string }) => {
        const status = opts.status as Run['status'] | undefined;
        if (status !== undefined && !STATUSES.includes(status))
          throw new CliError(`--status is one of ${STATUSES.join(', ')}`, 2);
        const client = await ctx.client();
        const experiment = await requireExperiment(client, experimentRef);
        const listed = await collect(
          client.list('/v1/experiments/{id}/runs', {
            path: { id: experiment.id },
            query: { limit: 200, ...(status ? { status } : {}) },
          }),
        );
        ctx.print(listed, () =>
          table(
            ['NAME', 'STATUS', 'STARTED', 'ENDED', 'METRICS'],
            listed.map((r) => [
              r.name,
              r.status,
              shortTime(r.startedAt),
              shortTime(r.endedAt),
              metricSummary(r.metrics),
            ]),
          ),
        );
      }),
    );
  runs
    .command('show <run>')
    .description('A run, by its name or id: its params, tags and the latest value of each metric')
    .option(...EXPERIMENT_OPTION)
    .action(
      action(async (ctx, ref: string, opts: { experiment?: string }) => {
        const client = await ctx.client();
        const run = await requireRun(client, ref, opts.experiment);
        if (ctx.options.json) return ctx.print(run, () => '');
        const experiment = await client.request('get', '/v1/experiments/{id}', {
          path: { id: run.experimentId },
        });
        ctx.print(run, () => runText(run, experiment.name));
      }),
    );
  runs
    .command('metric <run> <key>')
    .description('Every point of one metric of a run, by step: step, value and time')
    .option(...EXPERIMENT_OPTION)
    .action(
      action(async (ctx, ref: string, key: string, opts: { experiment?: string }) => {
        const client = await ctx.client();
        const run = await requireRun(client, ref, opts.experiment);
        // An unknown key's history is merely empty: say so, with the keys there are.
        if (!run.metrics.some((m) => m.key === key)) {
          const known = run.metrics.map((m) => m.key).join(', ');
          throw new CliError(
            `Run ${run.name} has no metric ${key} (${known ? `its metrics: ${known}` : 'it has logged none'})`,
          );
        }
        const points = await collect(
          client.list('/v1/runs/{id}/metrics/{key}/history', {
            path: { id: run.id, key },
            query: { limit: 1000 },
          }),
        );
        ctx.print(points, () =>
          table(
            ['STEP', 'VALUE', 'TIME'],
            points.map((p) => [p.step, p.value, shortTime(p.timestamp)]),
          ),
        );
      }),
    );
}
