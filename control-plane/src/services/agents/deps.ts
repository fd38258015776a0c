import type { Database } from '../../db/client.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';
import type { DesiredStateChanges } from './desired-state-changes.js';

/** What the agent services need, built once in createApp. */
export interface AgentServiceDeps {
  db: Database;
  /** Wakes desired-state long polls of this instance. */
  changes: DesiredStateChanges;
  heartbeatIntervalSeconds: number;
  /** Platform key each agent's data-plane key is derived from (the edge derives them too); no agent holds it. */
  dataPlaneSigningKey: string;
  /** Signs the model download URLs handed to agents in their desired state. */
  objectStore: ObjectStore;
  /** Told when a heartbeat arrives, so reported phases reach deployments without waiting for a tick. */
  scheduler?: SchedulerTrigger;
}

export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 15;
