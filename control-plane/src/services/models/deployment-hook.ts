import { eq } from 'drizzle-orm';
import { deploymentRevisions } from '../../db/schema.js';
import type { Reader } from './deps.js';

/**
 * Whether a deployment references this model version, which makes it undeletable (409). Every revision of
 * an existing deployment counts, not only the current one: replicas of an older revision may still serve
 * while a rollout is under way, and the revision row keeps the version (the foreign key restricts).
 */
export async function isVersionDeployed(db: Reader, versionId: string): Promise<boolean> {
  const [hit] = await db
    .select({ deploymentId: deploymentRevisions.deploymentId })
    .from(deploymentRevisions)
    .where(eq(deploymentRevisions.modelVersionId, versionId))
    .limit(1);
  return hit !== undefined;
}
