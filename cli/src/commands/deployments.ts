import {
  collect,
  DeploymentFailedError,
  type MeridianClient,
  type Schema,
  waitForDeployment,
} from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, type Context, EXIT, table } from '../context.js';
import { findDeployment, requireDeployment, requireModel } from '../resolve.js';
import { type LogFlags, printLogs, withLogFlags } from './logs.js';

type Deployment = Schema<'Deployment'>;
const GPU_TYPES = ['t4', 'v100', 'rtx4090', 'cpu'] as const;

interface DeployOptions {
  name?: string;
  version?: string;
  alias?: string;
  gpu?: string;
  image?: string;
  min?: string;
  max?: string;
  wait?: boolean;
  timeout?: string;
}

const count = (value: string | undefined, flag: string) => {
  if (value === undefined) return undefined;
  if (!/^\d{1,4}$/.test(value)) throw new CliError(`${flag} wants a whole number, not ${value}`, 2);
  return Number(value);
};

function phaseLine(d: Deployment): string {
  const r = d.replicas;
  // Out of what the autoscaler wants now: with --min 0 and --max 3, "1/0" would say nothing.
  const replicas = `${r.ready}/${d.desiredReplicas} replicas ready`;
  return `${d.name}: ${d.status}${d.statusReason ? ` (${d.statusReason})` : ''} — ${replicas}`;
}

/** Waits for the deployment, one line per phase change; a failure exits 4 with the server's reason. */
export async function waitAndReport(
  ctx: Context,
  client: MeridianClient,
  deployment: Deployment,
  timeoutMs: number,
) {
  try {
    return await waitForDeployment(client, deployment.id, {
      timeoutMs,
      intervalMs: 500,
      onChange: (d) => ctx.note(phaseLine(d)),
    });
  } catch (err) {
    if (err instanceof DeploymentFailedError)
      throw new CliError(
        `Deployment ${deployment.name} failed: ${err.reason} (its log: meridian deployments logs ${deployment.name})`,
        EXIT.deploymentFailed,
      );
    throw err;
  }
}

async function deploy(ctx: Context, modelRef: string, opts: DeployOptions) {
  if (opts.version && opts.alias) throw new CliError('Give --version or --alias, not both', 2);
  if (opts.gpu && !(GPU_TYPES as readonly string[]).includes(opts.gpu)) {
    throw new CliError(`--gpu is one of ${GPU_TYPES.join(', ')}`, 2);
  }
  const version = count(opts.version, '--version');
  const minReplicas = count(opts.min, '--min');
  const maxReplicas = count(opts.max, '--max');
  const client = await ctx.client();
  const model = await requireModel(client, modelRef);
  const name = opts.name ?? model.name;
  const existing = await findDeployment(client, name);
  const target = version !== undefined ? { version } : opts.alias ? { alias: opts.alias } : undefined;
  let deployment: Deployment;
  if (existing) {
    deployment = await client.request('patch', '/v1/deployments/{id}', {
      path: { id: existing.id },
      body: {
        ...target,
        ...(minReplicas !== undefined ? { minReplicas } : {}),
        ...(maxReplicas !== undefined ? { maxReplicas } : {}),
      },
    });
    ctx.note(`Updated deployment ${name} (${deployment.id})`);
  } else {
    if (model.latestVersion === null && !target)
      throw new CliError(`Model ${model.name} has no version yet: run \`meridian models push\``);
    deployment = await client.request('post', '/v1/deployments', {
      body: {
        name,
        model: model.id,
        ...(target ?? { version: model.latestVersion ?? 1 }),
        gpuType: (opts.gpu ?? 'cpu') as (typeof GPU_TYPES)[number],
        ...(opts.image ? { image: opts.image } : {}),
        ...(minReplicas !== undefined ? { minReplicas } : {}),
        ...(maxReplicas !== undefined ? { maxReplicas } : {}),
      },
    });
    ctx.note(`Created deployment ${name} (${deployment.id})`);
  }
  if (opts.wait)
    deployment = await waitAndReport(ctx, client, deployment, Number(opts.timeout ?? 600) * 1000);
  ctx.print(
    deployment,
    () => `${deployment.name} ${deployment.status}: ${deployment.modelName} v${deployment.version.version}`,
  );
}

export function deploymentCommands(program: Command): void {
  program
    .command('deploy <model>')
    .description('Create or update the deployment of a model (named after it unless --name)')
    .option('--name <deployment>', 'deployment name')
    .option('--version <n>', 'model version to serve')
    .option('--alias <alias>', 'serve the version this alias names')
    .option('--gpu <type>', `${GPU_TYPES.join(' | ')} (default cpu)`)
    .option('--image <image>', 'model-server image, for models that are not ONNX (container runtime)')
    .option('--min <n>', 'minimum replicas')
    .option('--max <n>', 'maximum replicas')
    .option('--wait', 'show the phases until ready; exit 4 if it fails')
    .option('--timeout <seconds>', 'how long --wait waits', '600')
    .action(action(async (ctx, model: string, opts: DeployOptions) => deploy(ctx, model, opts)));

  const deployments = program.command('deployments').description('Deployments of models');
  deployments
    .command('list')
    .description('Deployments of the organisation, with their model version and replicas')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/deployments'));
        ctx.print(items, () =>
          table(
            ['ID', 'NAME', 'MODEL', 'VERSION', 'STATUS', 'READY'],
            items.map((d) => [
              d.id,
              d.name,
              d.modelName,
              d.version.version,
              d.status,
              `${d.replicas.ready}/${d.desiredReplicas}`,
            ]),
          ),
        );
      }),
    );
  deployments
    .command('get <name>')
    .description('A deployment’s status and ready replicas')
    .action(
      action(async (ctx, ref: string) => {
        const d = await requireDeployment(await ctx.client(), ref);
        ctx.print(d, () => phaseLine(d));
      }),
    );
  deployments
    .command('events <name>')
    .description('What happened to a deployment: placements, phases, scaling, rollouts')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const d = await requireDeployment(client, ref);
        const items = await collect(client.list('/v1/deployments/{id}/events', { path: { id: d.id } }));
        ctx.print(items, () =>
          table(
            ['AT', 'TYPE', 'MESSAGE'],
            items.map((e) => [e.at, e.type, e.message]),
          ),
        );
      }),
    );
  deployments
    .command('delete <name>')
    .description('Delete a deployment; its replicas stop')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const d = await requireDeployment(client, ref);
        await client.request('delete', '/v1/deployments/{id}', { path: { id: d.id } });
        ctx.print({ deleted: d.id }, () => `Deleted deployment ${d.name}`);
      }),
    );
  withLogFlags(
    deployments
      .command('logs <name>')
      .description('Log lines of the deployment’s replicas: load, failed requests with their ids, output'),
  ).action(
    action(async (ctx, ref: string, opts: LogFlags) => {
      const client = await ctx.client();
      const d = await requireDeployment(client, ref);
      await printLogs(ctx, client, { deployment: d.id }, opts);
    }),
  );
}
