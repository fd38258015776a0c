// Entry of a session worker started from TypeScript sources (tsx, vitest): Node 20 does not apply
// `--import tsx` from a worker's execArgv before loading its entry, so this registers tsx, then loads it.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
