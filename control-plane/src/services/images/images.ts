import { imageMatches } from '@meridian/protocol';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { orgAllowedImages, platformImages } from '../../db/schema.js';
import { conflict, invalidField, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import type { Reader } from '../models/deps.js';
import { DEFAULT_NOTEBOOK_IMAGE } from '../notebooks/deps.js';

/** The most entries one org's allow-list holds: a list people read, not a registry mirror. */
export const MAX_ORG_IMAGES = 100;

/** Images every org may run without asking: the operators' list, and the default notebook image. */
export async function listPlatformImages(db: Reader): Promise<string[]> {
  const rows = await db.select({ image: platformImages.image }).from(platformImages);
  return [...new Set([DEFAULT_NOTEBOOK_IMAGE, ...rows.map((r) => r.image)])].sort();
}

/**
 * At start: the configured default notebook image (MERIDIAN_NOTEBOOK_IMAGE) joins the platform images, as the
 * built-in one always is, so agents run it for every org. It stays one after the setting changes, until an
 * operator removes it.
 */
export async function addDefaultNotebookImage(db: Database, image: string): Promise<void> {
  if (image !== DEFAULT_NOTEBOOK_IMAGE) await addPlatformImage(db, image);
}

/** Operators: adds a platform image; adding one twice is fine. */
export async function addPlatformImage(db: Database, image: string): Promise<string[]> {
  await db.insert(platformImages).values({ image }).onConflictDoNothing();
  return listPlatformImages(db);
}

/** Operators: removes a platform image; agents refuse it from its next start on. */
export async function removePlatformImage(db: Database, image: string): Promise<void> {
  const removed = await db.delete(platformImages).where(eq(platformImages.image, image)).returning();
  if (removed.length === 0) throw notFound('Platform image');
}

/** The caller's org: platform images and its own allow-list. Any member may read it. */
export async function listAllowedImages(db: Database, actor: Actor) {
  requirePermission(actor.principal, 'org:read');
  const own = await db
    .select({ image: orgAllowedImages.image, createdAt: orgAllowedImages.createdAt })
    .from(orgAllowedImages)
    .where(eq(orgAllowedImages.orgId, actor.principal.orgId))
    .orderBy(asc(orgAllowedImages.image));
  return {
    platform: await listPlatformImages(db),
    items: own.map((r) => ({ image: r.image, createdAt: r.createdAt.toISOString() })),
  };
}

/** Owners and admins: allows an image (or every tag of a repository) for their org; audited. */
export async function allowImage(db: Database, actor: Actor, image: string) {
  requirePermission(actor.principal, 'org:write');
  const { principal } = actor;
  const orgId = principal.orgId;
  await db.transaction(async (tx) => {
    const existing = await tx
      .select({ image: orgAllowedImages.image })
      .from(orgAllowedImages)
      .where(eq(orgAllowedImages.orgId, orgId));
    if (existing.some((r) => r.image === image)) return;
    if (existing.length >= MAX_ORG_IMAGES) {
      throw conflict(`The allow-list holds ${MAX_ORG_IMAGES} images already; remove one first`);
    }
    await tx.insert(orgAllowedImages).values({
      orgId,
      image,
      addedBy: principal.type === 'user' ? principal.userId : principal.keyId,
    });
    await recordAudit(tx, actor, { orgId, action: 'image.allow', targetType: 'image', targetId: image });
  });
  return listAllowedImages(db, actor);
}

/** Owners and admins: takes an image off their org's list; agents refuse it from its next start on. */
export async function disallowImage(db: Database, actor: Actor, image: string): Promise<void> {
  requirePermission(actor.principal, 'org:write');
  const orgId = actor.principal.orgId;
  await db.transaction(async (tx) => {
    const removed = await tx
      .delete(orgAllowedImages)
      .where(and(eq(orgAllowedImages.orgId, orgId), eq(orgAllowedImages.image, image)))
      .returning();
    if (removed.length === 0) throw notFound('Allowed image');
    await recordAudit(tx, actor, { orgId, action: 'image.disallow', targetType: 'image', targetId: image });
  });
}

/** What an agent's desired state carries: platform images, and the lists of the orgs it runs work for. */
export async function imagePolicyFor(db: Reader, orgIds: readonly string[]) {
  const unique = [...new Set(orgIds)];
  const rows =
    unique.length === 0
      ? []
      : await db
          .select({ orgId: orgAllowedImages.orgId, image: orgAllowedImages.image })
          .from(orgAllowedImages)
          .where(inArray(orgAllowedImages.orgId, unique));
  const byOrg: Record<string, string[]> = Object.fromEntries(unique.map((id) => [id, [] as string[]]));
  for (const row of rows) byOrg[row.orgId]?.push(row.image);
  return { platform: await listPlatformImages(db), byOrg };
}

/**
 * Refuses, as a 400 naming `field`, an image `orgId` may not run: neither a platform image nor on its
 * allow-list. For creation routes, so a tenant hears at once what an agent would refuse later.
 */
export async function assertImageAllowed(db: Reader, orgId: string, image: string, field = 'image') {
  const policy = await imagePolicyFor(db, [orgId]);
  const allowed = [...policy.platform, ...(policy.byOrg[orgId] ?? [])];
  if (!allowed.some((entry) => imageMatches(entry, image))) {
    throw invalidField(field, `${image} is neither a platform image nor on the organisation's allow-list`);
  }
}
