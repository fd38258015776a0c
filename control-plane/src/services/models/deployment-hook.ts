import { eq, inArray } from 'drizzle-orm';
import { deploymentRevisions, deployments } from '../../db/schema.js';
import { conflict } from '../../errors.js';
import type { Reader } from './deps.js';

/** A deployment that references a model version: by its current revision, or only by an earlier one. */
export interface VersionUser {
  name: string;
  current: boolean;
}

/**
 * The deployments that reference one of these model versions, which makes them undeletable (409). Every
 * revision of an existing deployment counts, not only the current one: replicas of an older revision may
 * still serve while a rollout is under way, and the revision row keeps the version (the foreign key restricts).
 */
export async function deploymentsUsing(db: Reader, versionIds: string[]): Promise<VersionUser[]> {
  if (versionIds.length === 0) return [];
  const rows = await db
    .select({ name: deployments.name, current: deployments.revision, revision: deploymentRevisions.revision })
    .from(deploymentRevisions)
    .innerJoin(deployments, eq(deployments.id, deploymentRevisions.deploymentId))
    .where(inArray(deploymentRevisions.modelVersionId, versionIds));
  const byName = new Map<string, boolean>();
  for (const r of rows) byName.set(r.name, (byName.get(r.name) ?? false) || r.revision === r.current);
  return [...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, current]) => ({ name, current }));
}

/**
 * The 409 for deleting `what` (`Version 3`, `Model "ocr"`) while deployments reference it, naming them;
 * `movable`: moving a deployment to another version frees it (true for a version, not for a whole model).
 */
export function deployedConflict(what: string, users: VersionUser[], movable: boolean) {
  const named = (names: string[]) =>
    `${names.length === 1 ? 'deployment' : 'deployments'} ${names.map((n) => JSON.stringify(n)).join(', ')}`;
  const serving = users.filter((u) => u.current).map((u) => u.name);
  if (serving.length > 0) {
    const them = serving.length === 1 ? 'it' : 'them';
    const remedy = movable ? `delete ${them} or move ${them} to another version` : `delete ${them}`;
    return conflict(`${what} is deployed by ${named(serving)}; ${remedy} first`);
  }
  const keeping = users.map((u) => u.name);
  return conflict(
    `${what} is deployed in an earlier revision of ${named(keeping)}, kept until the deployment is deleted`,
  );
}
