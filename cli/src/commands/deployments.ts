import {
  askedAlias,
  collect,
  DeploymentFailedError,
  type MeridianClient,
  MeridianError,
  NotFoundError,
  RolloutFailedError,
  type Schema,
  waitForDeployment,
  waitForRollout,
} from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, type Context, EXIT, table } from '../context.js';
import { MAX_GPU_COUNT, parseGpuCount, requireGpuType } from '../gpus.js';
import { versionNumber, wholeNumber } from '../numbers.js';
import { findDeployment, requireDeployment, requireModel } from '../resolve.js';
import { type SettingFlags, settingsFrom } from './deploy-settings.js';
import { deploymentDetail, phaseLine, readyCell, rolloutLine, versionCell } from './deployment-detail.js';
import { type LogFlags, printLogs, withLogFlags } from './logs.js';

type Deployment = Schema<'Deployment'>;
const GPU_TYPES = ['t4', 'v100', 'rtx4090', 'cpu'] as const;

interface DeployOptions extends SettingFlags {
  name?: string;
  version?: string;
  alias?: string;
  gpu?: string;
  gpus?: string;
  image?: string;
  wait?: boolean;
  timeout?: string;
}

/**
 * The version the alias a deployment was asked by names now (null once deleted); undefined when it was asked
 * by version, or the model cannot be read (a key without models:read): the detail then leaves it out.
 */
async function aliasTarget(client: MeridianClient, d: Deployment): Promise<number | null | undefined> {
  const alias = askedAlias(d);
  if (alias === undefined) return undefined;
  try {
    const path = { id: d.modelId, version: alias };
    return (await client.request('get', '/v1/models/{id}/versions/{version}', { path })).version;
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    if (err instanceof MeridianError) return undefined;
    throw err;
  }
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

/**
 * Follows a canary until it ends, a line per step and per judgement; a rollback (or a cancel) exits 4 with
 * its reason, as a failed deployment does, so a script that deploys with --canary --wait stops on a bad version.
 */
async function followCanary(ctx: Context, client: MeridianClient, deployment: Deployment, timeoutMs: number) {
  try {
    return await waitForRollout(client, deployment.id, {
      timeoutMs,
      intervalMs: 500,
      onChange: (d) => {
        if (d.rollout) ctx.note(`${d.name}: ${rolloutLine(d.rollout)}`);
      },
    });
  } catch (err) {
    if (err instanceof RolloutFailedError)
      throw new CliError(`Deployment ${deployment.name}: ${err.reason}`, EXIT.deploymentFailed);
    throw err;
  }
}

/** --gpu and --image choose the replicas' machines and server: fixed once created, never dropped in silence. */
function refuseFixedChanges(existing: Deployment, opts: DeployOptions) {
  const fixed = [
    opts.gpu !== undefined && opts.gpu !== existing.gpuType ? `--gpu (it runs on ${existing.gpuType})` : '',
    opts.gpus !== undefined && Number(opts.gpus) !== existing.gpuCount
      ? `--gpus (it has ${existing.gpuCount})`
      : '',
    opts.image !== undefined && opts.image !== existing.image
      ? `--image (it runs ${existing.image ?? 'onnx'})`
      : '',
  ].filter(Boolean);
  if (fixed.length > 0)
    throw new CliError(
      `${existing.name} exists, and ${fixed.join(' and ')} cannot change on it: ` +
        `deploy under another --name, or delete it first`,
      2,
    );
}

/**
 * `deploy MODEL` run again with nothing asked (no --version, --alias or setting), as after `models push` of a
 * new version: what a first run serves, the model's latest ready version, is rolled out when the deployment
 * serves another one; a deployment asked by an alias follows that alias instead, and a running canary is left
 * to run. Undefined when there is nothing to change (said on stderr); the deployment is then shown as it is.
 */
function rerunTarget(
  ctx: Context,
  model: Schema<'Model'>,
  existing: Deployment,
): { version: number } | { alias: string } | undefined {
  const name = existing.name;
  if (existing.modelId !== model.id)
    throw new CliError(
      `${name} serves model ${existing.modelName}, not ${model.name}: deploy ${model.name} under another --name`,
      2,
    );
  const serving = existing.version.version;
  if (existing.rollout?.state === 'canary') {
    ctx.note(`${name}: ${rolloutLine(existing.rollout)}; nothing changed while it runs`);
    return undefined;
  }
  const alias = askedAlias(existing);
  if (alias !== undefined) {
    const named = model.aliases.find((a) => a.alias === alias)?.version;
    if (named !== undefined && named !== serving) {
      ctx.note(`${name}: rolling out v${named} (was v${serving}), the version alias ${alias} names now`);
      return { alias };
    }
    ctx.note(
      named === undefined
        ? `${name}: serves v${serving}, asked as alias ${alias}, which names no version now; nothing changed`
        : `${name}: serves v${serving}, the version alias ${alias} names; nothing to change`,
    );
    return undefined;
  }
  const latest = model.latestVersion;
  if (latest !== null && latest !== serving) {
    ctx.note(`${name}: rolling out v${latest} (was v${serving})`);
    return { version: latest };
  }
  ctx.note(`${name}: serves v${serving}, the latest version of ${model.name}; nothing to change`);
  return undefined;
}

/**
 * Without --wait, the status the change was answered with may be a start, not its end (`pending`, starting
 * 1 replica): it says why, and how to follow it; a failed one, where to read why.
 */
function noteHowToFollow(ctx: Context, d: Deployment) {
  if (d.status === 'ready' || d.status === 'idle') return;
  const why = d.statusReason ? ` (${d.statusReason})` : '';
  if (d.status === 'failed')
    ctx.note(`${d.name}: failed${why}; its log: meridian deployments logs ${d.name}`);
  else
    ctx.note(
      `${d.name}: ${d.status}${why}; follow it with: meridian deployments get ${d.name} (or deploy with --wait)`,
    );
}

async function deploy(ctx: Context, modelRef: string, opts: DeployOptions) {
  if (opts.version && opts.alias) throw new CliError('Give --version or --alias, not both', 2);
  if (opts.gpu && !(GPU_TYPES as readonly string[]).includes(opts.gpu)) {
    throw new CliError(`--gpu is one of ${GPU_TYPES.join(', ')}`, 2);
  }
  const gpuCount = parseGpuCount(opts.gpus, opts.gpu);
  const version = opts.version === undefined ? undefined : versionNumber(opts.version, '--version');
  // Checked before anything changes: a --timeout that is not a number would otherwise wait forever.
  const timeoutMs = wholeNumber(opts.timeout ?? '600', '--timeout', 1, 86_400) * 1000;
  const client = await ctx.client();
  const model = await requireModel(client, modelRef);
  const name = opts.name ?? model.name;
  const existing = await findDeployment(client, name);
  // Without --gpu the type is the existing deployment's (a new one's default is cpu).
  if (gpuCount !== undefined) requireGpuType(opts.gpu ?? existing?.gpuType ?? 'cpu');
  const settings = settingsFrom(opts, existing);
  const target = version !== undefined ? { version } : opts.alias ? { alias: opts.alias } : undefined;
  if (settings.canary && !target)
    throw new CliError('--canary rolls out a new version: give it --version or --alias', 2);
  let deployment: Deployment;
  if (existing && !target && Object.keys(settings).length === 0) {
    refuseFixedChanges(existing, opts);
    // The API refuses an update that asks for nothing: a re-run asks for what a first run would serve.
    const again = rerunTarget(ctx, model, existing);
    deployment = again
      ? await client.request('patch', '/v1/deployments/{id}', { path: { id: existing.id }, body: again })
      : existing;
  } else if (existing) {
    refuseFixedChanges(existing, opts);
    deployment = await client.request('patch', '/v1/deployments/{id}', {
      path: { id: existing.id },
      body: { ...target, ...settings },
    });
    ctx.note(`Updated deployment ${name} (${deployment.id})`);
  } else {
    if (model.latestVersion === null && !target)
      throw new CliError(`Model ${model.name} has no version yet: run \`meridian models push\``);
    // A new deployment has no batch settings to drop: --default-batching is what it gets anyway.
    const { canary: _none, batching, ...create } = settings;
    deployment = await client.request('post', '/v1/deployments', {
      body: {
        name,
        model: model.id,
        ...(target ?? { version: model.latestVersion ?? 1 }),
        gpuType: (opts.gpu ?? 'cpu') as (typeof GPU_TYPES)[number],
        ...(gpuCount !== undefined ? { gpuCount } : {}),
        ...(opts.image ? { image: opts.image } : {}),
        ...create,
        ...(batching ? { batching } : {}),
      },
    });
    ctx.note(`Created deployment ${name} (${deployment.id})`);
  }
  if (settings.canary) {
    if (opts.wait) deployment = await followCanary(ctx, client, deployment, timeoutMs);
    else {
      if (deployment.rollout) ctx.note(`${name}: ${rolloutLine(deployment.rollout)}`);
      ctx.note(`Follow it with: meridian deployments get ${name}`);
    }
  } else if (opts.wait) deployment = await waitAndReport(ctx, client, deployment, timeoutMs);
  else noteHowToFollow(ctx, deployment);
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
    .option('--gpus <n>', `GPUs of --gpu's type per replica, 1 to ${MAX_GPU_COUNT} (default 1)`)
    .option('--image <image>', 'model-server image, for models that are not ONNX (container runtime)')
    .option('--min <n>', 'minimum replicas (0: scale to zero when idle)')
    .option('--max <n>', 'maximum replicas')
    .option('--target-concurrency <n>', 'calls in flight per replica the autoscaler aims for (default 16)')
    .option(
      '--scale-to-zero-after <duration>',
      'with --min 0: idle time before the last replica stops (5m), or never',
    )
    .option('--scale-up-delay <duration>', 'how long more replicas must be wanted before they start (0s)')
    .option('--scale-down-delay <duration>', 'how long fewer replicas must be wanted before some stop (30s)')
    .option('--hold-timeout <duration>', 'how long the edge holds a call while no replica is ready (30s)')
    .option('--max-batch-size <n>', 'dynamic batching: most calls run together (the agent’s default: 32)')
    .option('--max-queue-delay <ms>', 'dynamic batching: how long a call waits for others, in ms (0)')
    .option('--default-batching', 'drop the batch settings above: the agent’s own apply')
    .option('--deterministic', 'same input, same output: repeats are answered from the edge’s cache')
    .option('--no-deterministic', 'every call reaches a replica (the default)')
    .option('--canary <steps>', 'roll the new version out step by step, e.g. 10%,50%; then it is promoted')
    .option('--canary-window <duration>', 'how long each canary step lasts (1m)')
    .option('--canary-min-calls <n>', 'calls the canary must serve in a step before it may pass (20)')
    .option(
      '--canary-max-p95 <ratio>',
      'roll back when the canary’s p95 latency is over this many times the old version’s (2), or off',
    )
    .option('--wait', 'show the phases until ready (with --canary: until promoted); exit 4 if it fails')
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
            items.map((d) => [d.id, d.name, d.modelName, versionCell(d), d.status, readyCell(d)]),
          ),
        );
      }),
    );
  deployments
    .command('get <name>')
    .description('A deployment’s version, status, replicas, scaling, batching and rollout, and its URL')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const d = await requireDeployment(client, ref);
        const edgeUrl = await ctx.edgeUrl();
        const aliasNow = await aliasTarget(client, d);
        ctx.print(d, () => deploymentDetail(d, edgeUrl, aliasNow));
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
      const idle = d.desiredReplicas === 0 ? 'no replica is running: scaled to zero' : undefined;
      await printLogs(ctx, client, { deployment: d.id }, d.name, opts, idle);
    }),
  );
}
