import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';

/** What the files service needs besides the caller. */
export interface FileDeps {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  /** Largest file one upload may carry; past it the upload stops with 413. */
  maxFileBytes: number;
  /** How long a file is kept after it is created. */
  retentionSeconds: number;
}

/** 2 GiB, as for model files. */
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3;
/** 30 days. */
export const DEFAULT_FILE_RETENTION_SECONDS = 30 * 24 * 3600;
