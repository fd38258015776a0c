import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { DesiredStateChanges } from '../agents/desired-state-changes.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';

/** What the notebook services need besides the caller. */
export interface NotebookDeps {
  db: Database;
  /** Kicked after every change, so a start or stop does not wait for the next tick. */
  scheduler: SchedulerTrigger;
  /** Wakes the long polls of agents whose notebook a delete removed. */
  changes: DesiredStateChanges;
  /** Where notebooks' saved files are kept: a deleted notebook's go with it. */
  objectStore: ObjectStore;
  /** Files a delete could not remove are logged (the delete itself has committed). */
  logger: Logger;
  /** Where users reach the edge: its scheme and port are those of each notebook's own origin. */
  edgePublicUrl: string;
  /** A notebook answers at `nb-<id>.<notebookDomain>/notebooks/<id>/` (see @meridian/protocol's notebook-origin). */
  notebookDomain: string;
  /** The image of a notebook created without one (MERIDIAN_NOTEBOOK_IMAGE). Default DEFAULT_NOTEBOOK_IMAGE. */
  defaultImage?: string;
}

/**
 * The platform's notebook image: Debian's classic Jupyter notebook and ipykernel, built on each docker host
 * by scripts/build-notebook-image.sh (these machines pull from no registry). Always a platform image; an
 * operator names another default with MERIDIAN_NOTEBOOK_IMAGE (e.g. a jupyter/docker-stacks image).
 */
export const DEFAULT_NOTEBOOK_IMAGE = 'meridian/notebook:1';
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 3600;
/** The edge of the embedded default, on loopback. */
export const DEFAULT_EDGE_PUBLIC_URL = 'http://127.0.0.1:8787';
