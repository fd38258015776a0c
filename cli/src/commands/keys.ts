import { collect } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, table } from '../context.js';
import { requireActiveKey } from '../resolve.js';

export function keyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys of the organisation');
  keys
    .command('create <name>')
    .description('Create a key; its secret is printed this once')
    .option(
      '--scope <scope>',
      'predict, predict:<deployment>, models:read, … (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--test', 'an mk_test_ key')
    .option('--expires-at <iso>', 'expiry (ISO 8601)')
    .action(
      action(async (ctx, name: string, opts: { scope: string[]; test?: boolean; expiresAt?: string }) => {
        const key = await (await ctx.client()).request('post', '/v1/api-keys', {
          body: {
            name,
            scopes: opts.scope.length > 0 ? opts.scope : ['predict'],
            environment: opts.test ? 'test' : 'live',
            ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
          },
        });
        ctx.print(key, () => `${key.secret}\n(key ${key.id}; the secret is shown only now)`);
      }),
    );
  keys
    .command('list')
    .description('Keys of the organisation (their secrets are never shown again)')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/api-keys'));
        ctx.print(items, () =>
          table(
            ['ID', 'NAME', 'START', 'SCOPES', 'STATUS'],
            items.map((k) => [k.id, k.name, k.start, k.scopes.join(','), k.status]),
          ),
        );
      }),
    );
  keys
    .command('revoke <key>')
    .description('Revoke a key, by its name or id (the edge refuses it within 30 s)')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const key = await requireActiveKey(client, ref);
        await client.request('delete', '/v1/api-keys/{id}', { path: { id: key.id } });
        ctx.print({ revoked: key.id }, () => `Revoked key ${key.name} (${key.id})`);
      }),
    );
}
