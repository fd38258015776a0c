import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { DEFAULT_FILE_RETENTION_SECONDS, DEFAULT_MAX_FILE_BYTES } from '../files/deps.js';
import { RoutingSnapshots } from '../scheduler/routing-snapshot.js';
import { type BatchDeps, DEFAULT_CONCURRENCY } from './deps.js';

export interface BatchSettings {
  /** MERIDIAN_MAX_FILE_BYTES: largest upload to /v1/files (2 GiB). */
  maxFileBytes?: number | undefined;
  /** MERIDIAN_FILE_RETENTION_DAYS, in seconds: how long files are kept (30 days). */
  fileRetentionSeconds?: number | undefined;
  /** MERIDIAN_BATCH_CONCURRENCY: lines of a job in flight unless it asks otherwise (2). */
  concurrency?: number | undefined;
  wake?: ((deploymentId: string) => Promise<void>) | undefined;
}

/** The files and batch services' dependencies, built the same way by createApp and by main's runner. */
export function batchDepsFor(
  base: { db: Database; objectStore: ObjectStore; logger: Logger; dataPlaneSigningKey: string },
  settings: BatchSettings = {},
): BatchDeps {
  const files = {
    db: base.db,
    store: base.objectStore,
    logger: base.logger,
    maxFileBytes: settings.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    retentionSeconds: settings.fileRetentionSeconds ?? DEFAULT_FILE_RETENTION_SECONDS,
  };
  return {
    db: base.db,
    store: base.objectStore,
    logger: base.logger,
    files,
    dataPlaneSigningKey: base.dataPlaneSigningKey,
    routing: new RoutingSnapshots(base.db),
    defaultConcurrency: settings.concurrency ?? DEFAULT_CONCURRENCY,
    ...(settings.wake ? { wake: settings.wake } : {}),
  };
}
