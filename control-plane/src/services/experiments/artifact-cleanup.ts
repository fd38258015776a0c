import { and, eq, inArray, sum } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { runArtifacts, runs } from '../../db/schema.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { addStoredBytes } from '../storage-accounting.js';
import type { Tx } from './types.js';

/** What services that touch artifact objects need. */
export interface ArtifactStoreDeps {
  db: Database;
  store: ObjectStore;
  logger: Logger;
}

/**
 * Inside a transaction that is about to delete runs (their artifact rows go by cascade): gives the
 * artifacts' bytes back to the org and returns their object keys, to delete once the transaction commits.
 */
export async function forgetArtifacts(
  tx: Tx,
  orgId: string,
  scope: { runId: string } | { experimentId: string },
): Promise<string[]> {
  const runIds =
    'runId' in scope
      ? [scope.runId]
      : (
          await tx
            .select({ id: runs.id })
            .from(runs)
            .where(and(eq(runs.orgId, orgId), eq(runs.experimentId, scope.experimentId)))
        ).map((r) => r.id);
  if (runIds.length === 0) return [];
  const where = and(eq(runArtifacts.orgId, orgId), inArray(runArtifacts.runId, runIds));
  const [total] = await tx
    .select({ bytes: sum(runArtifacts.sizeBytes) })
    .from(runArtifacts)
    .where(where);
  await addStoredBytes(tx, orgId, 'artifact', -Number(total?.bytes ?? 0));
  const rows = await tx.select({ key: runArtifacts.objectKey }).from(runArtifacts).where(where);
  return rows.map((r) => r.key);
}

/**
 * Deletes objects whose rows are already gone. A failure leaves an orphan object, which costs storage but
 * is never reachable, so it is logged rather than failing a request whose change has committed.
 */
export async function deleteArtifactObjects(deps: ArtifactStoreDeps, keys: string[]): Promise<void> {
  const results = await Promise.allSettled(keys.map((key) => deps.store.delete(key)));
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      deps.logger.error('artifact object left behind', { key: keys[i], error: result.reason });
    }
  });
}
