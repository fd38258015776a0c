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
  /** Platform-wide key the edge signs data-plane requests with; handed to each agent at registration. */
  dataPlaneSigningKey: string;
  /** Signs the model download URLs handed to agents in their desired state. */
  objectStore: ObjectStore;
  /** Told when a heartbeat arrives, so reported phases reach deployments without waiting for a tick. */
  scheduler?: SchedulerTrigger;
}

export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 15;
