import type { Schema } from '@meridian/sdk';
import { collect } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';
import { parseDurationWithin } from '../durations.js';
import { MAX_GPU_COUNT, parseGpuCount } from '../gpus.js';
import { requireNotebook } from '../resolve.js';
import { type LogFlags, printLogs, withLogFlags } from './logs.js';
import { notebookLine, printLink, waitTimeoutMs, waitUntilServing, withWaitFlags } from './notebook-open.js';

type Notebook = Schema<'Notebook'>;

// The API's bounds on idleTimeoutSeconds (control-plane notebooks-schemas.ts): 5 s to 7 days.
const MIN_IDLE_TIMEOUT_SECONDS = 5;
const MAX_IDLE_TIMEOUT_SECONDS = 7 * 86_400;

interface WaitFlags {
  wait?: boolean;
  timeout?: string;
}

interface CreateFlags extends WaitFlags {
  gpu: string;
  gpus?: string;
  image?: string;
  idleTimeout?: string;
}

export function notebookCommands(program: Command): void {
  const notebooks = program.command('notebooks').description('Jupyter notebooks on the platform’s machines');
  const create = notebooks
    .command('create <name>')
    .description('Create a notebook and start it on a machine with room for it')
    .option('--gpu <type>', 't4 | v100 | rtx4090 | cpu', 'cpu')
    .option('--gpus <n>', `how many GPUs of --gpu's type, 1 to ${MAX_GPU_COUNT} (default 1; cpu takes none)`)
    .option('--image <image>', 'a Jupyter image from the allow-list')
    .option(
      '--idle-timeout <duration>',
      'stop it after this long without activity, 5s to 7d: 90s, 30m, 2h (default: the server’s)',
    );
  withWaitFlags(create, 'show progress until its server is up, then print the link that opens it').action(
    action(async (ctx, name: string, opts: CreateFlags) => {
      if (!['t4', 'v100', 'rtx4090', 'cpu'].includes(opts.gpu))
        throw new CliError('--gpu is one of t4, v100, rtx4090, cpu', 2);
      const gpuCount = parseGpuCount(opts.gpus, opts.gpu);
      const idleTimeoutSeconds =
        opts.idleTimeout === undefined
          ? undefined
          : parseDurationWithin(
              opts.idleTimeout,
              '--idle-timeout',
              MIN_IDLE_TIMEOUT_SECONDS,
              MAX_IDLE_TIMEOUT_SECONDS,
            );
      const timeoutMs = waitTimeoutMs(opts.timeout);
      const client = await ctx.client();
      const notebook = await client.request('post', '/v1/notebooks', {
        body: {
          name,
          gpuType: opts.gpu as Notebook['gpuType'],
          ...(gpuCount !== undefined ? { gpuCount } : {}),
          ...(opts.image ? { image: opts.image } : {}),
          ...(idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds } : {}),
        },
      });
      if (!opts.wait) return ctx.print(notebook, () => notebookLine(notebook));
      await printLink(ctx, client, await waitUntilServing(ctx, client, notebook, timeoutMs));
    }),
  );
  notebooks
    .command('list')
    .description('Notebooks of the organisation')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/notebooks'));
        ctx.print(items, () =>
          table(
            ['ID', 'NAME', 'GPU', 'STATUS'],
            items.map((n) => [n.id, n.name, n.gpuType, n.status]),
          ),
        );
      }),
    );
  notebooks
    .command('get <name>')
    .description('One notebook: its status and why (a stop whose files could not be saved says so)')
    .action(
      action(async (ctx, ref: string) => {
        const n = await requireNotebook(await ctx.client(), ref);
        ctx.print(n, () => notebookLine(n));
      }),
    );
  const open = notebooks
    .command('open <name>')
    .description('Print the link that opens the notebook in a browser (through the edge, with your login)');
  withWaitFlags(open, 'wait until its server is up first').action(
    action(async (ctx, ref: string, opts: WaitFlags) => {
      const timeoutMs = waitTimeoutMs(opts.timeout);
      const client = await ctx.client();
      const n = await requireNotebook(client, ref);
      await printLink(ctx, client, opts.wait ? await waitUntilServing(ctx, client, n, timeoutMs) : n);
    }),
  );
  const start = notebooks
    .command('start <name>')
    .description('Start a stopped notebook; its files are where it left them');
  withWaitFlags(start, 'show progress until its server is up, then print the link that opens it').action(
    action(async (ctx, ref: string, opts: WaitFlags) => {
      const timeoutMs = waitTimeoutMs(opts.timeout);
      const client = await ctx.client();
      const n = await requireNotebook(client, ref);
      const started = await client.request('post', '/v1/notebooks/{id}/start', { path: { id: n.id } });
      if (!opts.wait) return ctx.print(started, () => notebookLine(started));
      await printLink(ctx, client, await waitUntilServing(ctx, client, started, timeoutMs));
    }),
  );
  notebooks
    .command('stop <name>')
    .description('Stop a notebook; its files stay for the next start')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const n = await requireNotebook(client, ref);
        const stopped = await client.request('post', '/v1/notebooks/{id}/stop', { path: { id: n.id } });
        ctx.print(stopped, () => notebookLine(stopped));
      }),
    );
  notebooks
    .command('delete <name>')
    .description('Delete a notebook and its files')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const n = await requireNotebook(client, ref);
        await client.request('delete', '/v1/notebooks/{id}', { path: { id: n.id } });
        ctx.print({ deleted: n.id }, () => `Deleted notebook ${n.name}`);
      }),
    );
  withLogFlags(
    notebooks.command('logs <name>').description('The Jupyter server’s own output (not its cells’)'),
  ).action(
    action(async (ctx, ref: string, opts: LogFlags) => {
      const client = await ctx.client();
      const n = await requireNotebook(client, ref);
      await printLogs(ctx, client, { notebook: n.id }, n.name, opts);
    }),
  );
}
