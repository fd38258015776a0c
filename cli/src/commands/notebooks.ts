import type { Schema } from '@meridian/sdk';
import { collect } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';
import { requireNotebook } from '../resolve.js';
import { type LogFlags, printLogs, withLogFlags } from './logs.js';

type Notebook = Schema<'Notebook'>;

// The states a notebook passes through on its way to what its owner asked for.
const ON_THE_WAY: Record<Notebook['desired'], readonly Notebook['status'][]> = {
  running: ['pending', 'starting', 'running'],
  stopped: ['stopping', 'stopped'],
};

/**
 * A notebook in one line. Just after `stop`, the server still reports it running: the arrow says where it
 * goes, and the reason, which speaks of the state it leaves, is left out. A failure keeps its reason.
 */
export function notebookLine(n: Notebook): string {
  if (n.status !== 'failed' && !ON_THE_WAY[n.desired].includes(n.status))
    return `${n.name} (${n.id}): ${n.status} → ${n.desired}`;
  return `${n.name} (${n.id}): ${n.status}${n.statusReason ? ` (${n.statusReason})` : ''}`;
}

export function notebookCommands(program: Command): void {
  const notebooks = program.command('notebooks').description('Jupyter notebooks on the platform’s machines');
  notebooks
    .command('create <name>')
    .description('Create a notebook and start it on a machine with room for it')
    .option('--gpu <type>', 't4 | v100 | rtx4090 | cpu', 'cpu')
    .option('--image <image>', 'a Jupyter image from the allow-list')
    .option('--idle-timeout <seconds>', 'stop it after this long without activity (default: the server’s)')
    .action(
      action(async (ctx, name: string, opts: { gpu: string; image?: string; idleTimeout?: string }) => {
        if (!['t4', 'v100', 'rtx4090', 'cpu'].includes(opts.gpu))
          throw new CliError('--gpu is one of t4, v100, rtx4090, cpu', 2);
        if (opts.idleTimeout !== undefined && !/^[1-9]\d{0,7}$/.test(opts.idleTimeout))
          throw new CliError(`--idle-timeout wants a whole number of seconds, not ${opts.idleTimeout}`, 2);
        const notebook = await (await ctx.client()).request('post', '/v1/notebooks', {
          body: {
            name,
            gpuType: opts.gpu as Notebook['gpuType'],
            ...(opts.image ? { image: opts.image } : {}),
            ...(opts.idleTimeout ? { idleTimeoutSeconds: Number(opts.idleTimeout) } : {}),
          },
        });
        ctx.print(notebook, () => notebookLine(notebook));
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
    .command('open <name>')
    .description('Print the notebook’s URL (through the edge) with its token')
    .action(
      action(async (ctx, ref: string) => {
        const n = await requireNotebook(await ctx.client(), ref);
        if (!n.accessUrl)
          throw new CliError(`Notebook ${n.name} has no URL for you (only its owner opens it)`);
        const url = n.token ? `${n.accessUrl}?token=${n.token}` : n.accessUrl;
        ctx.print({ id: n.id, url, status: n.status }, () => url);
      }),
    );
  const verbs = {
    start: 'Start a stopped notebook; its files are where it left them',
    stop: 'Stop a notebook; its files stay for the next start',
  } as const;
  for (const verb of ['start', 'stop'] as const) {
    notebooks
      .command(`${verb} <name>`)
      .description(verbs[verb])
      .action(
        action(async (ctx, ref: string) => {
          const client = await ctx.client();
          const n = await requireNotebook(client, ref);
          const path = verb === 'start' ? '/v1/notebooks/{id}/start' : '/v1/notebooks/{id}/stop';
          const updated = await client.request('post', path, { path: { id: n.id } });
          ctx.print(updated, () => notebookLine(updated));
        }),
      );
  }
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
      await printLogs(ctx, client, { notebook: n.id }, opts);
    }),
  );
}
