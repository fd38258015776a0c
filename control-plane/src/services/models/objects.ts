import { objectKeys } from '../../storage/object-store.js';
import type { ModelDeps } from './deps.js';
import type { VersionRow } from './records.js';

/**
 * Deletes the objects (and open multipart uploads) of versions whose rows are already gone. A failure leaves
 * an orphan that costs storage but is unreachable, so it is logged rather than failing a committed request.
 */
export async function removeObjects(
  deps: Pick<ModelDeps, 'store' | 'logger'>,
  versions: Pick<VersionRow, 'objectKey' | 'uploadId'>[],
): Promise<void> {
  const results = await Promise.allSettled(
    versions.map(async (v) => {
      if (v.uploadId) await deps.store.abortMultipartUpload(v.objectKey, v.uploadId);
      await deps.store.delete(v.objectKey);
    }),
  );
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      deps.logger.error('model object left behind', { key: versions[i]?.objectKey, error: result.reason });
    }
  });
}

/** Everything stored under one model's prefix: what a deleted model may still have in the store. */
export function modelPrefix(orgId: string, modelId: string): string {
  const sample = objectKeys.modelVersion(orgId, modelId, 'x');
  return sample.slice(0, sample.indexOf('/versions/') + 1);
}

/** Deletes whatever is left under a deleted model's prefix (objects of uploads that raced the delete). */
export async function sweepModelPrefix(
  deps: Pick<ModelDeps, 'store' | 'logger'>,
  orgId: string,
  modelId: string,
) {
  try {
    for await (const object of deps.store.list(modelPrefix(orgId, modelId)))
      await deps.store.delete(object.key);
  } catch (err) {
    deps.logger.error('model objects left behind', { orgId, modelId, error: err });
  }
}
