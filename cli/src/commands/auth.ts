import { createInterface } from 'node:readline';
import { MeridianClient, tokensFrom } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';

/** Everything on stdin (for --password-stdin), without its trailing newline. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks one question on the terminal; `secret` hides what is typed. */
function prompt(question: string, secret = false): Promise<string> {
  if (!process.stdin.isTTY)
    throw new CliError('No terminal to prompt on: pass --email and --password-stdin', 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) =>
      write.call(rl, s.startsWith(question) ? s : '');
  }
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      if (secret) process.stderr.write('\n');
      resolve(answer);
    }),
  );
}

export function authCommands(program: Command): void {
  program
    .command('login')
    .description('Log in and keep the login (mode 0600) for this profile; it renews itself')
    .option('--email <email>', 'account email (prompted when absent)')
    .option('--password-stdin', 'read the password from stdin, for scripts')
    .action(
      action(async (ctx, opts: { email?: string; passwordStdin?: boolean }) => {
        const email = opts.email ?? (await prompt('Email: '));
        const password = opts.passwordStdin ? await readStdin() : await prompt('Password: ', true);
        if (!email || !password) throw new CliError('An email and a password are needed', 2);
        const apiUrl = await ctx.apiUrl();
        const edgeUrl = await ctx.edgeUrl();
        const pair = await new MeridianClient({ baseUrl: apiUrl }).login(email, password);
        await ctx.credentials.update(ctx.profileName, () => ({
          apiUrl,
          edgeUrl,
          email,
          tokens: tokensFrom(pair),
        }));
        ctx.print(
          { profile: ctx.profileName, apiUrl, email, orgId: pair.orgId },
          () => `Logged in to ${apiUrl} as ${email}`,
        );
      }),
    );

  program
    .command('register')
    .description('Create an account (and its personal organisation), and log in to it')
    .requiredOption('--email <email>', 'account email')
    .requiredOption('--name <name>', 'your name')
    .option('--password-stdin', 'read the password from stdin, for scripts')
    .action(
      action(async (ctx, opts: { email: string; name: string; passwordStdin?: boolean }) => {
        const password = opts.passwordStdin
          ? await readStdin()
          : await prompt('Password (10+ characters): ', true);
        const apiUrl = await ctx.apiUrl();
        const edgeUrl = await ctx.edgeUrl();
        const created = await new MeridianClient({ baseUrl: apiUrl }).request('post', '/v1/auth/register', {
          body: { email: opts.email, password, name: opts.name },
        });
        await ctx.credentials.update(ctx.profileName, () => ({
          apiUrl,
          edgeUrl,
          email: opts.email,
          tokens: tokensFrom(created),
        }));
        ctx.print(
          { profile: ctx.profileName, apiUrl, user: created.user, org: created.org },
          () => `Registered ${opts.email} with organisation ${created.org.name}; logged in to ${apiUrl}`,
        );
      }),
    );

  program
    .command('logout')
    .description('End the login on the server and forget it here')
    .action(
      action(async (ctx) => {
        const client = await ctx.client({ requireLogin: false });
        await client.logout();
        ctx.print({ profile: ctx.profileName, loggedOut: true }, () => 'Logged out');
      }),
    );

  program
    .command('whoami')
    .description('Who the current credential is, and in which organisation')
    .action(
      action(async (ctx) => {
        const me = await (await ctx.client()).request('get', '/v1/auth/me');
        const who = me.user ? `${me.user.email} (${me.user.name})` : `API key ${me.apiKey?.name ?? ''}`;
        ctx.print(
          me,
          () => `${who}\norg: ${me.org.name} (${me.org.id})${me.role ? `\nrole: ${me.role}` : ''}`,
        );
      }),
    );

  const orgs = program
    .command('orgs')
    .description('The organisations you belong to, and which one you work in');
  orgs
    .command('list', { isDefault: true })
    .description('The organisations you belong to, with your role in each')
    .action(
      action(async (ctx) => {
        const { items, currentId } = await orgsOf(await ctx.client());
        ctx.print(items, () =>
          table(
            ['', 'ID', 'NAME', 'ROLE'],
            items.map((o) => [o.id === currentId ? '*' : '', o.id, o.name, o.role]),
          ),
        );
      }),
    );
  orgs
    .command('create <name>')
    .description('Create an organisation you own; you keep working in this one until you switch')
    .action(
      action(async (ctx, name: string) => {
        if (process.env.MERIDIAN_TOKEN)
          throw new CliError(
            'MERIDIAN_TOKEN is set: an API key cannot create organisations; unset it to use your login',
          );
        const client = await ctx.client();
        const org = await client.request('post', '/v1/orgs', { body: { name } });
        // Names need not be unique: the switch hint names it by id when another of yours has its name.
        const { items } = await orgsOf(client);
        const shared = items.some((o) => o.id !== org.id && o.name === org.name);
        const ref = shared ? org.id : shellWord(org.name);
        ctx.print(
          org,
          () =>
            `Created organisation ${org.name} (${org.id}); you own it\nWork in it: meridian orgs switch ${ref}`,
        );
      }),
    );
  orgs
    .command('switch <org>')
    .description('Work in another of your organisations (by name or id) from now on, in this profile')
    .action(
      action(async (ctx, ref: string) => {
        if (process.env.MERIDIAN_TOKEN)
          throw new CliError(
            'MERIDIAN_TOKEN is set: an API key belongs to one organisation; unset it to switch',
          );
        const client = await ctx.client();
        const { items, currentId } = await orgsOf(client);
        const org = pickOrg(items, ref);
        const answer = { profile: ctx.profileName, orgId: org.id, name: org.name, role: org.role };
        if (org.id === currentId)
          return ctx.print(answer, () => `Already working in ${org.name} (${org.id}) as ${org.role}`);
        const store = ctx.credentials.tokenStore(ctx.profileName);
        const before = await store.load();
        const pair = await client.request('post', '/v1/auth/switch-org', { body: { orgId: org.id } });
        await store.save(tokensFrom(pair));
        // The login in the organisation left ends here, rather than living on unused until it expires.
        if (before)
          await client
            .request('post', '/v1/auth/logout', { body: { refreshToken: before.refreshToken } })
            .catch(() => {});
        ctx.print(answer, () => `Now working in ${org.name} (${org.id}) as ${org.role}`);
      }),
    );
}

type Org = { id: string; name: string; role: string };

/** `name` as one shell word: quoted unless it is plain letters, digits and `._-`. */
function shellWord(name: string): string {
  return /^[\w.-]+$/.test(name) ? name : `'${name.replaceAll("'", `'\\''`)}'`;
}

/** The caller's organisations, and which one the credential works in. */
async function orgsOf(client: MeridianClient): Promise<{ items: Org[]; currentId: string }> {
  const [{ items }, me] = await Promise.all([
    client.request('get', '/v1/orgs'),
    client.request('get', '/v1/auth/me'),
  ]);
  return { items, currentId: me.org.id };
}

/** An organisation of the caller's by id or exact name; a name two of them share asks for the id. */
export function pickOrg(orgs: Org[], ref: string): Org {
  const byId = orgs.find((o) => o.id === ref);
  if (byId) return byId;
  const named = orgs.filter((o) => o.name === ref);
  if (named.length === 1 && named[0]) return named[0];
  if (named.length > 1)
    throw new CliError(`${named.length} of your organisations are named ${ref}: give its id (meridian orgs)`);
  throw new CliError(`You belong to no organisation named ${ref} (meridian orgs lists yours)`);
}
