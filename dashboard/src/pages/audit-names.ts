import { collect, type MeridianClient, paginate, type Schema } from '@meridian/sdk';

type Entry = Schema<'AuditEntry'>;
// An actor (a user or API key) or a target (any type).
type Ref = { type: string; id: string };

/** Ids of the org's members and API keys to what a person reads: an e-mail, `key <name>`. */
export async function loadAuditNames(client: MeridianClient): Promise<Map<string, string>> {
  const [members, keys] = await Promise.all([
    collect(
      paginate((cursor) => client.request('get', '/v1/org/members', { query: { cursor, limit: 200 } })),
    ),
    collect(paginate((cursor) => client.request('get', '/v1/api-keys', { query: { cursor, limit: 200 } }))),
  ]);
  const names = new Map<string, string>();
  for (const m of members) names.set(m.userId, m.email);
  for (const k of keys) names.set(k.id, `key ${k.name}`);
  return names;
}

/**
 * What a target is called: the actors' names, and the organisations' (a plan change or a rename targets the
 * organisation; the log is the active one's, and the user knows it by its name).
 */
export function targetNames(
  actors: ReadonlyMap<string, string>,
  orgs: readonly { id: string; name: string }[],
): Map<string, string> {
  const names = new Map(actors);
  for (const org of orgs) names.set(org.id, org.name);
  return names;
}

/**
 * Who or what an entry names, as a person reads it: a member by e-mail, a key by name, another target by the
 * name (or a former member by the e-mail) the entry recorded; the type and id when nothing names it.
 */
export function auditRefLabel(
  ref: Ref,
  names: ReadonlyMap<string, string>,
  recorded: Entry['metadata'] = {},
): string {
  const known = names.get(ref.id);
  if (known) return known;
  const kept = [recorded.email, recorded.name].find((v): v is string => typeof v === 'string' && v !== '');
  return kept ?? `${ref.type} ${ref.id}`;
}

/** Who did it: a member by e-mail, a key as `key <name>`, by the name the log gives a former member or key. */
export function auditActorLabel(actor: Entry['actor'], names: ReadonlyMap<string, string>): string {
  const known = names.get(actor.id);
  if (known) return known;
  if (actor.name) return actor.type === 'api_key' ? `key ${actor.name}` : actor.name;
  return `${actor.type} ${actor.id}`;
}
