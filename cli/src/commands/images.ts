import { ForbiddenError, type MeridianClient, NotFoundError } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';

/**
 * A refusal of a change to the allow-list, said as the rule it enforces (owners and admins only) with the
 * caller's role, rather than as the permission name the server gives.
 */
async function asManager<T>(client: MeridianClient, change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (err) {
    if (!(err instanceof ForbiddenError)) throw err;
    const me = await client.request('get', '/v1/auth/me');
    const who = me.role ? `your role is ${me.role}` : 'this API key lacks the admin scope';
    throw new CliError(`Only owners and admins of ${me.org.name} change its image allow-list: ${who}`);
  }
}

export function imageCommands(program: Command): void {
  const images = program
    .command('images')
    .description(
      'Images notebooks and deployments may run: the platform’s and the organisation’s allow-list',
    );
  images
    .command('list', { isDefault: true })
    .description('Platform images, and the images (or repositories) the organisation has allowed')
    .action(
      action(async (ctx) => {
        const lists = await (await ctx.client()).request('get', '/v1/allowed-images');
        ctx.print(lists, () =>
          table(
            ['IMAGE', 'FROM', 'ADDED'],
            [
              ...lists.platform.map((image) => [image, 'platform', '']),
              ...lists.items.map((i) => [i.image, 'allow-list', i.createdAt]),
            ],
          ),
        );
      }),
    );
  images
    .command('allow <image>')
    .description(
      'Owners and admins: allow an image (repo:tag, repo@sha256:…), or a repository with every tag',
    )
    .action(
      action(async (ctx, image: string) => {
        const client = await ctx.client();
        const lists = await asManager(client, () =>
          client.request('post', '/v1/allowed-images', { body: { image } }),
        );
        const what = /[:@]/.test(image.split('/').at(-1) ?? '') ? image : `every tag of ${image}`;
        ctx.print(lists, () => `Allowed ${what} (${lists.items.length} on the allow-list)`);
      }),
    );
  images
    .command('remove <image>')
    .description('Owners and admins: take an image off the allow-list; running workloads keep running')
    .action(
      action(async (ctx, image: string) => {
        const client = await ctx.client();
        try {
          await asManager(client, () => client.request('delete', '/v1/allowed-images', { query: { image } }));
        } catch (err) {
          if (err instanceof NotFoundError)
            throw new CliError(`${image} is not on the allow-list (meridian images list)`);
          throw err;
        }
        ctx.print(
          { removed: image },
          () => `Removed ${image} from the allow-list; new workloads may not run it`,
        );
      }),
    );
}
