import { collect, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, EXIT, table } from '../context.js';
import { formatDuration, parseDurationWithin } from '../durations.js';
import { wholeNumber } from '../numbers.js';
import { requireActiveKey } from '../resolve.js';
import { invitationsRevokedWith, revokedInvitationsText } from './members.js';

type RateLimit = Schema<'ApiKey'>['rateLimits'][number];

// The API's bounds (protocol's ApiKeyRateLimit and the create body's 10 limits), refused here as usage.
const MAX_RATE_LIMITS = 10;
const MAX_LIMIT = 1_000_000_000;
const MAX_PERIOD_SECONDS = 31 * 86_400;
const LIMIT_FORMAT = 'NAME=N/PERIOD, e.g. per-second=10/1s or daily=10000/1d';

/** `--limit daily=10000/1d` as the API's `{name, limit, periodSeconds}`; anything else is a usage error. */
export function parseRateLimit(value: string): RateLimit {
  const match = /^([^=]*)=([^/]*)\/(.*)$/.exec(value);
  if (!match) throw new CliError(`--limit wants ${LIMIT_FORMAT}, not ${value}`, 2);
  const [, name = '', limit = '', period = ''] = match;
  if (!/^[a-z0-9_-]{1,32}$/.test(name))
    throw new CliError(
      `--limit ${value}: the name is 1 to 32 lower-case letters, digits, _ or -, not ${name || 'empty'}`,
      2,
    );
  return {
    name,
    limit: wholeNumber(limit, `--limit ${name}`, 1, MAX_LIMIT),
    periodSeconds: parseDurationWithin(period, `--limit ${name} period`, 1, MAX_PERIOD_SECONDS),
  };
}

/** Every --limit given, each at most once by name, no more than the API keeps. */
export function parseRateLimits(values: string[]): RateLimit[] {
  const limits = values.map(parseRateLimit);
  if (limits.length > MAX_RATE_LIMITS)
    throw new CliError(`A key takes at most ${MAX_RATE_LIMITS} --limit, not ${limits.length}`, 2);
  const names = limits.map((l) => l.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new CliError(`--limit ${twice} is given twice: each name once`, 2);
  return limits;
}

/** `daily=10000/1d`: a rate limit as --limit takes it. */
export function rateLimitText(l: RateLimit): string {
  return `${l.name}=${l.limit}/${formatDuration(l.periodSeconds)}`;
}

/** The rows of `keys list`: when a key expires and was last used (`never` for neither), its limits. */
export function keyRows(items: Schema<'ApiKey'>[]): string {
  return table(
    ['ID', 'NAME', 'START', 'SCOPES', 'LIMITS', 'STATUS', 'EXPIRES', 'LAST USED'],
    items.map((k) => [
      k.id,
      k.name,
      k.start,
      k.scopes.join(','),
      k.rateLimits.map(rateLimitText).join(','),
      k.status,
      k.expiresAt ?? 'never',
      k.lastUsedAt ?? 'never',
    ]),
  );
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * `--expires-at` as the API takes it (UTC, `Z`): a date is its UTC midnight, a time needs its zone. The
 * API took only `…T…Z`, so `2027-01-01`, ISO 8601 as the help said, was refused as "Invalid ISO datetime".
 */
export function parseExpiry(value: string): string {
  const ms = DATE.test(value)
    ? Date.parse(`${value}T00:00:00Z`)
    : ZONED_TIME.test(value)
      ? Date.parse(value)
      : NaN;
  // Date.parse rolls 2027-02-30 over to March: a date that does not come back as written does not exist.
  if (Number.isNaN(ms) || (DATE.test(value) && new Date(ms).toISOString().slice(0, 10) !== value))
    throw new CliError(
      `--expires-at wants a date (2027-01-01, its UTC midnight) or a time with its zone (2027-01-01T12:00:00Z), not ${value}`,
      EXIT.usage,
    );
  return new Date(ms).toISOString();
}

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
    .option('--expires-at <time>', 'expiry: a date (2027-01-01, its UTC midnight) or a time with its zone')
    .option(
      '--limit <NAME=N/PERIOD>',
      'a rate limit the edge enforces on the key, e.g. per-second=10/1s or daily=10000/1d (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .action(
      action(
        async (
          ctx,
          name: string,
          opts: { scope: string[]; test?: boolean; expiresAt?: string; limit: string[] },
        ) => {
          const rateLimits = parseRateLimits(opts.limit);
          const expiresAt = opts.expiresAt === undefined ? undefined : parseExpiry(opts.expiresAt);
          const key = await (await ctx.client()).request('post', '/v1/api-keys', {
            body: {
              name,
              scopes: opts.scope.length > 0 ? opts.scope : ['predict'],
              environment: opts.test ? 'test' : 'live',
              ...(expiresAt ? { expiresAt } : {}),
              ...(rateLimits.length > 0 ? { rateLimits } : {}),
            },
          });
          ctx.print(key, () => `${key.secret}\n(key ${key.name}, ${key.id}; the secret is shown only now)`);
        },
      ),
    );
  keys
    .command('list')
    .description('Keys of the organisation (their secrets are never shown again)')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/api-keys'));
        ctx.print(items, () => keyRows(items));
      }),
    );
  keys
    .command('revoke <key>')
    .description('Revoke a key, by its name or id (the edge refuses it within 30 s)')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const key = await requireActiveKey(client, ref);
        // A key revoking itself has no credential left to read the log with.
        const itself = (await client.request('get', '/v1/auth/me')).apiKey?.id === key.id;
        // A minute back: the server's clock, which stamps the log, need not agree with this one.
        const since = new Date(Date.now() - 60_000);
        await client.request('delete', '/v1/api-keys/{id}', { path: { id: key.id } });
        const revoked = itself
          ? []
          : await invitationsRevokedWith(client, { key: key.id }, 'api_key.revoke', since);
        ctx.print(
          { revoked: key.id, revokedInvitations: revoked },
          () =>
            `Revoked key ${key.name} (${key.id})` +
            revokedInvitationsText(revoked, 'The pending invitations it sent'),
        );
      }),
    );
}
