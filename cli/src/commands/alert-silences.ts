import type { MeridianClient, Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';

type Silence = Schema<'AlertSilence'>;

/** What a silence silences, as a person reads it: the rule's name, or every rule. */
function silencedRule(silence: Silence, ruleName: ReadonlyMap<string, string>): string {
  if (silence.ruleId === null) return 'every rule';
  // The rule may have been deleted since; its silence then silences nothing that is left.
  return ruleName.get(silence.ruleId) ?? '(deleted rule)';
}

/** Who made a silence, as the audit log shows people: by e-mail, keys as `key NAME`, ids where unnamed. */
export function silencedBy(silence: Silence): string {
  const by = silence.createdBy;
  if (!by) return '-';
  if (by.name === null) return by.id;
  return by.type === 'api_key' ? `key ${by.name}` : by.name;
}

async function silencesAndRuleNames(client: MeridianClient) {
  const [silences, rules] = await Promise.all([
    client.request('get', '/v1/alert-silences'),
    client.request('get', '/v1/alert-rules'),
  ]);
  return { items: silences.items, ruleName: new Map(rules.items.map((r) => [r.id, r.name])) };
}

/** `alerts silences` and `alerts unsilence`: the silences in force, and lifting one before it ends. */
export function silenceCommands(alerts: Command): void {
  alerts
    .command('silences')
    .description('Silences in force: which rule (or every rule), until when, who made it, and why')
    .action(
      action(async (ctx) => {
        const client = await ctx.client();
        if (ctx.options.json)
          return ctx.print((await client.request('get', '/v1/alert-silences')).items, () => '');
        const { items, ruleName } = await silencesAndRuleNames(client);
        ctx.print(items, () =>
          table(
            ['ID', 'RULE', 'UNTIL', 'BY', 'COMMENT'],
            items.map((s) => [s.id, silencedRule(s, ruleName), s.endsAt, silencedBy(s), s.comment]),
          ),
        );
      }),
    );
  alerts
    .command('unsilence <id>')
    .description('Lift a silence now, by its id (meridian alerts silences lists them)')
    .action(
      action(async (ctx, id: string) => {
        const client = await ctx.client();
        const { items, ruleName } = await silencesAndRuleNames(client);
        const silence = items.find((s) => s.id === id);
        if (!silence) throw new CliError(`No silence in force has id ${id} (meridian alerts silences)`);
        await client.request('delete', '/v1/alert-silences/{id}', { path: { id } });
        const rule = silencedRule(silence, ruleName);
        const what = silence.ruleId === null ? 'every alert' : `alert ${rule}`;
        ctx.print({ deleted: id }, () => `Lifted the silence on ${what} (until ${silence.endsAt})`);
      }),
    );
}
