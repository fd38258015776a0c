import { collect, type MeridianClient, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, type Context, table } from '../context.js';
import { formatDuration, parseDurationWithin } from '../durations.js';
import { pickNamed, requireDeployment } from '../resolve.js';
import { silenceCommands } from './alert-silences.js';

type Rule = Schema<'AlertRule'>;
type Channel = Schema<'NotificationChannel'>;

// The server's metrics, listed here so that `--help` can name them and a typo is refused before any call.
// Typed against the API's own enum both ways: if the server gains or drops one, this file stops compiling.
const METRICS = [
  'error_rate',
  'p95_latency_ms',
  'ready_replicas',
  'lost_agent',
  'spend_usd',
  'quota_used',
  'drift_score',
] as const satisfies readonly Rule['metric'][];
const everyMetricListed: [Exclude<Rule['metric'], (typeof METRICS)[number]>] extends [never] ? true : never =
  true;
void everyMetricListed;

/** The rule's condition in words: `error_rate > 0.05 over 5m, for 1m`. */
export function condition(rule: Pick<Rule, 'metric' | 'threshold' | 'windowSeconds' | 'forSeconds'>) {
  const op = rule.metric === 'ready_replicas' ? '<' : '>';
  const pending = rule.forSeconds > 0 ? `, for ${formatDuration(rule.forSeconds)}` : '';
  return `${rule.metric} ${op} ${rule.threshold} over ${formatDuration(rule.windowSeconds)}${pending}`;
}

async function channels(client: MeridianClient): Promise<Channel[]> {
  return (await client.request('get', '/v1/notification-channels')).items;
}

const CHANNEL = {
  one: 'notification channel',
  many: 'notification channels',
  list: 'meridian channels list',
};
const RULE = { one: 'alert rule', many: 'alert rules', list: 'meridian alerts list' };

/** A channel by id (nch_…) or by a name no other channel has. */
async function requireChannel(client: MeridianClient, ref: string): Promise<Channel> {
  return pickNamed(await channels(client), ref, CHANNEL);
}

/** A rule by id (alr_…) or by a name no other rule has. */
async function requireRule(client: MeridianClient, ref: string): Promise<Rule> {
  return pickNamed((await client.request('get', '/v1/alert-rules')).items, ref, RULE);
}

/** Rules as a person reads them: deployment and channel names, not ids (JSON keeps the ids, with no lookups). */
async function ruleRows(ctx: Context, client: MeridianClient, rules: Rule[]) {
  if (ctx.options.json) return ctx.print(rules, () => '');
  const [deployments, known] = await Promise.all([collect(client.list('/v1/deployments')), channels(client)]);
  const deploymentName = new Map(deployments.map((d) => [d.id, d.name]));
  const channelName = new Map(known.map((c) => [c.id, c.name]));
  ctx.print(rules, () =>
    table(
      ['NAME', 'DEPLOYMENT', 'CONDITION', 'STATE', 'LAST VALUE', 'CHANNELS'],
      rules.map((r) => [
        r.name,
        r.deploymentId === null ? '(all)' : (deploymentName.get(r.deploymentId) ?? r.deploymentId),
        condition(r),
        r.enabled ? r.state : 'disabled',
        r.lastValue,
        r.channelIds.map((id) => channelName.get(id) ?? id).join(','),
      ]),
    ),
  );
}

interface CreateRuleOptions {
  metric: string;
  threshold: string;
  deployment?: string;
  window: string;
  for?: string;
  channel: string[];
}

export function alertCommands(program: Command): void {
  const channelGroup = program
    .command('channels')
    .description('Where alerts are sent: webhooks and e-mail addresses');
  channelGroup
    .command('create <name>')
    .description('Add a webhook or e-mail channel; a webhook’s signing secret is printed this once')
    .option('--webhook <url>', 'POST each notification to this URL, signed (Meridian-Signature)')
    .option('--email <address>', 'send each notification to this address')
    .action(
      action(async (ctx, name: string, opts: { webhook?: string; email?: string }) => {
        if ((opts.webhook === undefined) === (opts.email === undefined))
          throw new CliError('Give --webhook URL or --email ADDRESS (one of them)', 2);
        const kind = opts.webhook !== undefined ? 'webhook' : 'email';
        const target = (opts.webhook ?? opts.email) as string;
        const created = await (await ctx.client()).request('post', '/v1/notification-channels', {
          body: { name, kind, target },
        });
        ctx.print(created, () =>
          created.secret
            ? `${created.secret}\n(channel ${created.name}: its webhook signing secret is shown only now)`
            : `Created channel ${created.name} (${created.kind} to ${created.target})`,
        );
      }),
    );
  channelGroup
    .command('list')
    .description('Notification channels of the organisation')
    .action(
      action(async (ctx) => {
        const items = await channels(await ctx.client());
        ctx.print(items, () =>
          table(
            ['ID', 'NAME', 'KIND', 'TARGET'],
            items.map((c) => [c.id, c.name, c.kind, c.target]),
          ),
        );
      }),
    );
  channelGroup
    .command('test <name>')
    .description('Send one test notification now, and say how it went')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const channel = await requireChannel(client, ref);
        const sent = await client.request('post', '/v1/notification-channels/{id}/test', {
          path: { id: channel.id },
        });
        const how = sent.httpStatus !== null ? `HTTP ${sent.httpStatus}` : (sent.error ?? 'no answer');
        // A failure is said once, as the error the exit code goes with; --json still prints the delivery.
        if (sent.ok || ctx.options.json) ctx.print(sent, () => `Delivered to ${channel.name}: ${how}`);
        if (!sent.ok) throw new CliError(`The test notification to ${channel.name} failed: ${how}`);
      }),
    );
  channelGroup
    .command('delete <name>')
    .description('Delete a channel (by name or id); rules stop sending to it')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const channel = await requireChannel(client, ref);
        await client.request('delete', '/v1/notification-channels/{id}', { path: { id: channel.id } });
        ctx.print({ deleted: channel.id }, () => `Deleted channel ${channel.name}`);
      }),
    );

  const alerts = program
    .command('alerts')
    .description('Alert rules on a deployment’s or the organisation’s metrics');
  alerts
    .command('create <name>')
    .description('Watch a metric and notify the channels when it crosses the threshold, and when it recovers')
    .requiredOption('--metric <metric>', METRICS.join(' | '))
    .requiredOption('--threshold <n>', 'fires above it (below it for ready_replicas)')
    .option('-d, --deployment <name>', 'one deployment (default: every deployment of the organisation)')
    .option('--window <duration>', 'how much data is judged: 5m, 1h, … (at least 1m)', '5m')
    .option('--for <duration>', 'how long the condition must hold before it fires (default: at once)')
    .option(
      '--channel <name>',
      'a channel to notify, by name or id (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .action(
      action(async (ctx, name: string, opts: CreateRuleOptions) => {
        if (!(METRICS as readonly string[]).includes(opts.metric))
          throw new CliError(`--metric is one of ${METRICS.join(', ')}`, 2);
        const threshold = Number(opts.threshold);
        if (opts.threshold.trim() === '' || !Number.isFinite(threshold))
          throw new CliError(`--threshold wants a number, not ${opts.threshold}`, 2);
        // The API's bounds: a window of 1 minute (its resolution) to 31 days, pending at most a day.
        const windowSeconds = parseDurationWithin(opts.window, '--window', 60, 31 * 86_400);
        const forSeconds =
          opts.for === undefined ? undefined : parseDurationWithin(opts.for, '--for', 0, 86_400);
        const client = await ctx.client();
        const deployment = opts.deployment ? await requireDeployment(client, opts.deployment) : undefined;
        const channelIds: string[] = [];
        for (const ref of opts.channel) channelIds.push((await requireChannel(client, ref)).id);
        const rule = await client.request('post', '/v1/alert-rules', {
          body: {
            name,
            metric: opts.metric as Rule['metric'],
            threshold,
            windowSeconds,
            ...(forSeconds === undefined ? {} : { forSeconds }),
            ...(deployment ? { deploymentId: deployment.id } : {}),
            channelIds,
          },
        });
        const where = deployment ? ` on ${deployment.name}` : '';
        ctx.print(rule, () => `Created alert ${rule.name}${where}: ${condition(rule)}`);
        // Kept, as the API allows (channels may come later), but a rule that tells no one is rarely meant.
        if (channelIds.length === 0)
          ctx.note(
            `Alert ${rule.name} notifies no one: its state shows in meridian alerts list only. To be told when ` +
              'it fires, create it with --channel <name> (meridian channels list, meridian channels create)',
          );
      }),
    );
  alerts
    .command('list')
    .description('Alert rules with their state (ok, pending, firing) and last value')
    .action(
      action(async (ctx) => {
        const client = await ctx.client();
        await ruleRows(ctx, client, (await client.request('get', '/v1/alert-rules')).items);
      }),
    );
  alerts
    .command('events <name>')
    .description('When a rule fired and resolved, newest first')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const rule = await requireRule(client, ref);
        const { items } = await client.request('get', '/v1/alert-rules/{id}/events', {
          path: { id: rule.id },
        });
        ctx.print(items, () =>
          table(
            ['AT', 'EVENT', 'VALUE', 'NOTIFIED'],
            items.map((e) => [e.at, e.kind, e.value, e.silenced ? 'no (silenced)' : 'yes']),
          ),
        );
      }),
    );
  alerts
    .command('silence [name]')
    .description('Notify nothing for a while: one rule, or every rule without a name')
    .requiredOption('--for <duration>', 'how long: 30m, 2h, 1d, …')
    .option('--comment <text>', 'why, for whoever wonders')
    .action(
      action(async (ctx, ref: string | undefined, opts: { for: string; comment?: string }) => {
        // A silence must end in the future.
        const seconds = parseDurationWithin(opts.for, '--for', 1, 365 * 86_400);
        const client = await ctx.client();
        const rule = ref === undefined ? undefined : await requireRule(client, ref);
        const endsAt = new Date(Date.now() + seconds * 1000).toISOString();
        const silence = await client.request('post', '/v1/alert-silences', {
          body: {
            ...(rule ? { ruleId: rule.id } : {}),
            endsAt,
            ...(opts.comment ? { comment: opts.comment } : {}),
          },
        });
        const what = rule ? `alert ${rule.name}` : 'every alert';
        ctx.print(
          silence,
          () => `Silenced ${what} until ${silence.endsAt} (lift it: meridian alerts unsilence ${silence.id})`,
        );
      }),
    );
  silenceCommands(alerts);
  alerts
    .command('delete <name>')
    .description('Delete an alert rule (by name or id)')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const rule = await requireRule(client, ref);
        await client.request('delete', '/v1/alert-rules/{id}', { path: { id: rule.id } });
        ctx.print({ deleted: rule.id }, () => `Deleted alert ${rule.name}`);
      }),
    );
}
