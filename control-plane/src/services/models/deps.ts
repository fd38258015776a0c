import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';

/** What the model registry's services need besides the caller. */
export interface ModelDeps {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  /** Largest model file accepted, by direct upload or multipart. */
  maxModelBytes: number;
  /** Where ONNX files are copied for onnxruntime to load; the OS temp dir by default. */
  tempDir?: string;
}

/** A transaction handle, for helpers that run inside their caller's transaction. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
/** The database or a transaction, for helpers that only read. */
export type Reader = Pick<Database, 'select'>;

/** The default upload limit: ONNX's protobuf cannot exceed 2 GiB without external data anyway. */
export const DEFAULT_MAX_MODEL_BYTES = 2 * 1024 ** 3;
