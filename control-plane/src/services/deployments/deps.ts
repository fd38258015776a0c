import type { Database } from '../../db/client.js';
import type { DesiredStateChanges } from '../agents/desired-state-changes.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';

/** What the deployment services need besides the caller. */
export interface DeploymentDeps {
  db: Database;
  /** Kicked after every change, so placement does not wait for the next tick. */
  scheduler: SchedulerTrigger;
  /** Wakes the long polls of agents whose workloads a delete removed. */
  changes: DesiredStateChanges;
}
