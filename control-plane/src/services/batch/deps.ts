import type { RoutingSnapshot } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { FileDeps } from '../files/deps.js';

/** What batch jobs need: the files they read and write, where replicas are, and how to sign calls to them. */
export interface BatchDeps {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  files: FileDeps;
  /** The platform key agents' data-plane keys derive from (the edge signs with the same). */
  dataPlaneSigningKey: string;
  /** The current routing snapshot: which replicas of a deployment are ready. */
  routing: { current(): Promise<RoutingSnapshot> };
  /** Lines of one job in flight at once, unless the job asks for fewer or more (up to MAX_CONCURRENCY). */
  defaultConcurrency: number;
  /** Asks for a replica of a deployment scaled to zero (the autoscaler's wake); absent: the job waits. */
  wake?: (deploymentId: string) => Promise<void>;
}

/** The most lines one job may have in flight: batch work must leave the replicas to real-time calls. */
export const MAX_CONCURRENCY = 32;
/** Lines in flight unless the job or MERIDIAN_BATCH_CONCURRENCY says otherwise: 2 kept real-time p99 within 1.5× on one CPU replica, 4 did not (bench/batch.ts). */
export const DEFAULT_CONCURRENCY = 2;
/** Valid lines per shard: the unit of progress a restart resumes from. */
export const SHARD_LINES = 100;
/** Input lines per file, at most: the custom_id set of one file is held in memory while it is checked. */
export const MAX_LINES = 200_000;
/** A longer line is refused (to the error file) without being held whole. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
