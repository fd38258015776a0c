import type { Database } from '../../db/client.js';
import type { DesiredStateChanges } from '../agents/desired-state-changes.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';

/** What the notebook services need besides the caller. */
export interface NotebookDeps {
  db: Database;
  /** Kicked after every change, so a start or stop does not wait for the next tick. */
  scheduler: SchedulerTrigger;
  /** Wakes the long polls of agents whose notebook a delete removed. */
  changes: DesiredStateChanges;
  /** Where users reach the edge; a notebook answers at `<edgePublicUrl>/notebooks/<id>/`. */
  edgePublicUrl: string;
}

export const DEFAULT_NOTEBOOK_IMAGE = 'quay.io/jupyter/base-notebook';
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 3600;
/** The edge of the embedded default, on loopback. */
export const DEFAULT_EDGE_PUBLIC_URL = 'http://127.0.0.1:8787';
