import { type ApiKeyRateLimit, newId } from '@meridian/protocol';
import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { apiKeys, deployments } from '../../db/schema.js';
import { AppError, notFound } from '../../errors.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';
import { recordAudit } from '../audit/record.js';
import { revokeInvitationsInviterCannotGrant } from '../orgs/inviter-standing.js';
import { idCursor, splitPage } from '../pagination.js';

export interface CreateApiKeyInput {
  name: string;
  environment: 'live' | 'test';
  scopes: string[];
  expiresAt?: string;
  rateLimits: ApiKeyRateLimit[];
}

type ApiKeyRow = typeof apiKeys.$inferSelect;

/** The listing shape: never the secret nor its hash. */
export function presentApiKey(row: ApiKeyRow, now = new Date()) {
  const status: 'active' | 'revoked' | 'expired' = row.revokedAt
    ? 'revoked'
    : row.expiresAt && row.expiresAt <= now
      ? 'expired'
      : 'active';
  return {
    id: row.id,
    name: row.name,
    environment: row.environment,
    start: row.start,
    scopes: row.scopes,
    rateLimits: row.rateLimits,
    status,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdBy: { type: row.createdByType, id: row.createdById },
    roleCap: row.roleCap,
    createdAt: row.createdAt.toISOString(),
  };
}

const DEPLOYMENT_ID_SCOPE = /^predict:(dep_[0-9a-z]{26})$/;

/**
 * Refuses `predict:<id>` scopes naming no deployment of the org (another org's is as missing as none): such a
 * key could never call anything, and was made without a word. A name may be of a deployment still to come.
 */
async function refuseUnknownDeploymentIds(db: Database, orgId: string, scopes: string[]): Promise<void> {
  const ids = scopes.flatMap((s) => DEPLOYMENT_ID_SCOPE.exec(s)?.[1] ?? []);
  if (ids.length === 0) return;
  const found = await db
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), inArray(deployments.id, ids)));
  const known = new Set(found.map((d) => d.id));
  const details = scopes.flatMap((scope, i) => {
    const id = DEPLOYMENT_ID_SCOPE.exec(scope)?.[1];
    return id && !known.has(id)
      ? [{ path: `scopes.${i}`, message: `no deployment ${id} in this organisation` }]
      : [];
  });
  if (details.length > 0) throw new AppError('validation_failed', 'A scope names no deployment', details);
}

/** Creates a key and returns its plaintext, the only time it is ever visible. */
export async function createApiKey(db: Database, actor: Actor, input: CreateApiKeyInput) {
  requirePermission(actor.principal, 'api_keys:manage');
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw new AppError('validation_failed', 'expiresAt must be in the future', [
      { path: 'expiresAt', message: 'must be in the future' },
    ]);
  }
  const names = new Set(input.rateLimits.map((l) => l.name));
  if (names.size !== input.rateLimits.length) {
    throw new AppError('validation_failed', 'Rate limit names must be unique', [
      { path: 'rateLimits', message: 'duplicate name' },
    ]);
  }
  const { principal } = actor;
  await refuseUnknownDeploymentIds(db, principal.orgId, input.scopes);
  const secret = `mk_${input.environment}_${randomSecret(32)}`;
  const row = {
    id: newId('apiKey'),
    orgId: principal.orgId,
    name: input.name,
    environment: input.environment,
    start: secret.slice(0, 12),
    hash: sha256Hex(secret),
    scopes: [...new Set(input.scopes)],
    rateLimits: input.rateLimits,
    expiresAt,
    createdByType: principal.type,
    createdById: principal.type === 'user' ? principal.userId : principal.keyId,
    // A key never does more than its maker may; a key made by a key inherits that key's cap.
    roleCap: principal.type === 'user' ? principal.role : principal.roleCap,
  };
  await db.transaction(async (tx) => {
    await tx.insert(apiKeys).values(row);
    await recordAudit(tx, actor, {
      orgId: row.orgId,
      action: 'api_key.create',
      targetType: 'api_key',
      targetId: row.id,
      metadata: { name: row.name, scopes: row.scopes },
    });
  });
  const [created] = await db.select().from(apiKeys).where(eq(apiKeys.id, row.id));
  if (!created) throw notFound('API key');
  return { ...presentApiKey(created), secret };
}

export async function listApiKeys(db: Database, actor: Actor, page: { limit: number; cursor?: string }) {
  requirePermission(actor.principal, 'api_keys:manage');
  const after = idCursor(page.cursor, 'key');
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, actor.principal.orgId), after ? lt(apiKeys.id, after) : undefined))
    .orderBy(desc(apiKeys.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return { items: items.map((r) => presentApiKey(r)), nextCursor };
}

async function findKey(db: Database, orgId: string, id: string) {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, id)));
  if (!row) throw notFound('API key');
  return row;
}

export async function getApiKey(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'api_keys:manage');
  return presentApiKey(await findKey(db, actor.principal.orgId, id));
}

/**
 * Revokes a key, and the pending invitations it sent. Revoking twice is harmless and keeps the first revocation
 * time.
 */
export async function revokeApiKey(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'api_keys:manage');
  const orgId = actor.principal.orgId;
  const row = await findKey(db, orgId, id);
  if (row.revokedAt) return presentApiKey(row);
  const revokedAt = new Date();
  await db.transaction(async (tx) => {
    await tx
      .update(apiKeys)
      .set({ revokedAt })
      .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, id)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'api_key.revoke',
      targetType: 'api_key',
      targetId: id,
      metadata: { name: row.name },
    });
    await revokeInvitationsInviterCannotGrant(tx, actor, orgId, [id], 'api_key.revoke', { key: id });
  });
  return presentApiKey({ ...row, revokedAt });
}
