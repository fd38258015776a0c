import type { Database } from '../../db/client.js';

/** A transaction handle, for helpers that must run inside their caller's transaction. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
/** The database or a transaction, for helpers that only read. */
export type Reader = Pick<Database, 'select'>;
