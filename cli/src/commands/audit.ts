import { collect, type MeridianClient, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';
import { parseDuration } from '../durations.js';
import { wholeNumber } from '../numbers.js';
import { listMembers, type Member, memberByEmail } from './members.js';

type Entry = Schema<'AuditEntry'>;

const MAX_LIMIT = 10_000;
// The API's largest page.
const MAX_PAGE = 200;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** `--since` / `--until`: a duration back from `now` (`90s`, `5m`, `1h`, `2d`) or an ISO 8601 time. */
export function parseTime(value: string, flag: string, now: number): Date {
  const refuse = () =>
    new CliError(`${flag} wants a duration such as 30m, 1h or 2d, or an ISO 8601 time, not ${value}`, 2);
  if (ISO_TIME.test(value)) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) throw refuse();
    return new Date(at);
  }
  try {
    return new Date(now - parseDuration(value, flag) * 1000);
  } catch {
    throw refuse();
  }
}

/** `--limit`: how many entries at most, 1 to 10,000. */
export function parseLimit(value: string): number {
  return wholeNumber(value, '--limit', 1, MAX_LIMIT);
}

/** The first `limit` entries of a newest-first log, reading no page past them. */
export async function takeEntries(entries: AsyncIterable<Entry>, limit: number): Promise<Entry[]> {
  const taken: Entry[] = [];
  if (limit < 1) return taken;
  for await (const entry of entries) {
    taken.push(entry);
    if (taken.length >= limit) break;
  }
  return taken;
}

/**
 * An entry as a person reads it: members by e-mail, API keys by name, other targets by the name the entry
 * recorded (a former member by the e-mail the entry kept); ids only where no name is known (a deleted key).
 */
export function entryRow(entry: Entry, names: ReadonlyMap<string, string>): string[] {
  // member.* entries keep the member's e-mail, so a former member still reads as a person.
  const { name, email } = entry.metadata;
  const recorded = [email, name].find((v): v is string => typeof v === 'string' && v !== '');
  const target = names.get(entry.target.id) ?? recorded ?? entry.target.id;
  // The log names every actor it can, a former member or a revoked key included.
  const { actor } = entry;
  const actorName = actor.name && (actor.type === 'api_key' ? `key ${actor.name}` : actor.name);
  return [entry.createdAt, names.get(actor.id) ?? actorName ?? actor.id, entry.action, target];
}

/** Ids to names for the users and API keys the entries mention, fetching only the lists needed. */
async function namesFor(
  client: MeridianClient,
  members: () => Promise<Member[]>,
  entries: Entry[],
): Promise<Map<string, string>> {
  const refs = entries.flatMap((e) => [e.actor, e.target]);
  const names = new Map<string, string>();
  if (refs.some((r) => r.type === 'user')) for (const m of await members()) names.set(m.userId, m.email);
  if (refs.some((r) => r.type === 'api_key'))
    for (const k of await collect(client.list('/v1/api-keys'))) names.set(k.id, `key ${k.name}`);
  return names;
}

/** `--actor`: a member's e-mail, or a user or key id as the log records it (a former member's too). */
async function resolveActor(members: () => Promise<Member[]>, ref: string): Promise<string> {
  if (/^(usr|key)_/.test(ref)) return ref;
  const member = memberByEmail(await members(), ref);
  if (!member)
    throw new CliError(
      `No member with e-mail ${ref} (meridian members list); a former member's usr_ id works`,
    );
  return member.userId;
}

interface AuditOptions {
  action?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit: string;
}

export function auditCommand(program: Command): void {
  program
    .command('audit')
    .description('Who changed what in the organisation, newest first (owners and admins)')
    .option(
      '--action <action>',
      'one action, named whole: invitation.accept, api_key.create, deployment.update, … (an unknown one is refused with the list)',
    )
    .option('--actor <email>', 'what one member did (or a user or API key id: usr_…, key_…)')
    .option(
      '--since <time>',
      'entries from then on: a duration back from now (30m, 1h, 2d) or an ISO 8601 time',
    )
    .option('--until <time>', 'entries before then: a duration back from now or an ISO 8601 time')
    .option('--limit <n>', `at most this many entries (1 to ${MAX_LIMIT})`, '50')
    .action(
      action(async (ctx, opts: AuditOptions) => {
        const limit = parseLimit(opts.limit);
        const now = Date.now();
        const since = opts.since === undefined ? undefined : parseTime(opts.since, '--since', now);
        const until = opts.until === undefined ? undefined : parseTime(opts.until, '--until', now);
        if (since && until && since >= until) throw new CliError('--since must be before --until', 2);
        const client = await ctx.client();
        // Fetched at most once: for --actor and for naming the entries.
        let memberList: Promise<Member[]> | undefined;
        const members = () => (memberList ??= listMembers(client));
        const actor = opts.actor === undefined ? undefined : await resolveActor(members, opts.actor);
        const pages = client.list('/v1/audit-log', {
          query: {
            limit: Math.min(limit, MAX_PAGE),
            ...(opts.action === undefined ? {} : { action: opts.action }),
            ...(actor === undefined ? {} : { actor }),
            ...(since ? { since: since.toISOString() } : {}),
            ...(until ? { until: until.toISOString() } : {}),
          },
        });
        const entries = await takeEntries(pages, limit);
        if (ctx.options.json) return ctx.print(entries, () => '');
        const names = await namesFor(client, members, entries);
        ctx.print(entries, () =>
          table(
            ['TIME', 'ACTOR', 'ACTION', 'TARGET'],
            entries.map((e) => entryRow(e, names)),
          ),
        );
        if (entries.length === limit) ctx.note(`(the newest ${limit}; --limit N shows more)`);
      }),
    );
}
