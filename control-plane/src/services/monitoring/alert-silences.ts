import { newId } from '@meridian/protocol';
import { and, eq, gt } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { alertRules, alertSilences, apiKeys, users } from '../../db/schema.js';
import { invalidField, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';

async function ruleNameOf(db: Pick<Database, 'select'>, orgId: string, ruleId: string) {
  const [rule] = await db
    .select({ name: alertRules.name })
    .from(alertRules)
    .where(and(eq(alertRules.id, ruleId), eq(alertRules.orgId, orgId)));
  return rule?.name;
}

/** A silence is named by the rule it silences; one over every rule of the org has no name to keep. */
function silenceNamed(ruleName: string | undefined) {
  return ruleName === undefined ? undefined : { name: ruleName };
}

export interface SilenceInput {
  ruleId?: string | null;
  endsAt: string;
  comment?: string;
}

const DAY_MS = 86_400_000;
/** The longest silence, as `meridian alerts silence --for` takes it: one that outlasts the rule is forgotten. */
export const MAX_SILENCE_DAYS = 365;

export async function createSilence(db: Database, actor: Actor, input: SilenceInput) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const endsAt = new Date(input.endsAt);
  const now = Date.now();
  if (endsAt.getTime() <= now) throw invalidField('endsAt', 'must be in the future');
  if (endsAt.getTime() > now + MAX_SILENCE_DAYS * DAY_MS)
    throw invalidField(
      'endsAt',
      `at most ${MAX_SILENCE_DAYS} days from now (a silence is not a way to delete a rule)`,
    );
  const ruleName = input.ruleId ? await ruleNameOf(db, orgId, input.ruleId) : undefined;
  if (input.ruleId && ruleName === undefined) throw notFound('Alert rule');
  const id = newId('alertSilence');
  const row = {
    id,
    orgId,
    ruleId: input.ruleId ?? null,
    startsAt: new Date(),
    endsAt,
    comment: input.comment ?? '',
    createdByType: actor.principal.type,
    createdById: actor.principal.type === 'user' ? actor.principal.userId : actor.principal.keyId,
  };
  await db.transaction(async (tx) => {
    await tx.insert(alertSilences).values(row);
    await recordAudit(tx, actor, {
      orgId,
      action: 'alert_silence.create',
      targetType: 'alert_silence',
      targetId: id,
      metadata: silenceNamed(ruleName),
    });
  });
  return presentSilence({ ...row, creatorName: await creatorNameOf(db, actor) });
}

/** The e-mail of the user, or the name of the API key, that made a silence now. */
async function creatorNameOf(db: Database, actor: Actor): Promise<string | null> {
  const p = actor.principal;
  if (p.type === 'api_key') {
    const [key] = await db.select({ name: apiKeys.name }).from(apiKeys).where(eq(apiKeys.id, p.keyId));
    return key?.name ?? null;
  }
  const [user] = await db.select({ email: users.email }).from(users).where(eq(users.id, p.userId));
  return user?.email ?? null;
}

function presentSilence(s: {
  id: string;
  ruleId: string | null;
  startsAt: Date;
  endsAt: Date;
  comment: string;
  createdByType: 'user' | 'api_key' | null;
  createdById: string | null;
  creatorName: string | null;
}) {
  return {
    id: s.id,
    ruleId: s.ruleId,
    startsAt: s.startsAt.toISOString(),
    endsAt: s.endsAt.toISOString(),
    comment: s.comment,
    // Who silenced, by e-mail or key name for people and by id for scripts; null for silences made before
    // the creator was recorded.
    createdBy:
      s.createdByType && s.createdById
        ? { type: s.createdByType, id: s.createdById, name: s.creatorName }
        : null,
  };
}

export async function listSilences(db: Database, actor: Actor) {
  requirePermission(actor.principal, 'deployments:read');
  const orgId = actor.principal.orgId;
  const rows = await db
    .select({
      silence: alertSilences,
      email: users.email,
      keyName: apiKeys.name,
    })
    .from(alertSilences)
    .leftJoin(users, and(eq(alertSilences.createdByType, 'user'), eq(users.id, alertSilences.createdById)))
    // A key is named only inside the org that owns it.
    .leftJoin(
      apiKeys,
      and(
        eq(alertSilences.createdByType, 'api_key'),
        eq(apiKeys.id, alertSilences.createdById),
        eq(apiKeys.orgId, orgId),
      ),
    )
    .where(and(eq(alertSilences.orgId, orgId), gt(alertSilences.endsAt, new Date())))
    .orderBy(alertSilences.id);
  return {
    items: rows.map((r) => presentSilence({ ...r.silence, creatorName: r.email ?? r.keyName ?? null })),
  };
}

export async function deleteSilence(db: Database, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  await db.transaction(async (tx) => {
    const [silence] = await tx
      .delete(alertSilences)
      .where(and(eq(alertSilences.id, id), eq(alertSilences.orgId, orgId)))
      .returning({ ruleId: alertSilences.ruleId });
    if (!silence) throw notFound('Silence');
    // The rule may have been deleted since: the silence then goes unnamed.
    const ruleName = silence.ruleId ? await ruleNameOf(tx, orgId, silence.ruleId) : undefined;
    await recordAudit(tx, actor, {
      orgId,
      action: 'alert_silence.delete',
      targetType: 'alert_silence',
      targetId: id,
      metadata: silenceNamed(ruleName),
    });
  });
}
