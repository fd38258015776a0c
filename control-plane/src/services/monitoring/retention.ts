import { and, eq, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  alertEvents,
  deploymentMetrics,
  driftScores,
  driftSketches,
  metricBatches,
} from '../../db/schema.js';

/** Minute rows are kept 48 h, hour rollups 90 days. */
export const MINUTE_RETENTION_S = 48 * 3600;
export const HOUR_RETENTION_S = 90 * 24 * 3600;

/**
 * Deletes what is past retention: minute rows after 48 h (their hours stay), hour rows after 90 days, batch
 * ids after 48 h (no batch is resent that late: edge isolates drop unsent metrics after minutes), drift
 * windows and alert events after 90 days. The drift reference (window 0) stays while the deployment does.
 */
export async function pruneMonitoring(db: Database, nowMs = Date.now()): Promise<void> {
  const now = Math.floor(nowMs / 1000);
  await db
    .delete(deploymentMetrics)
    .where(and(eq(deploymentMetrics.resolution, 60), lt(deploymentMetrics.at, now - MINUTE_RETENTION_S)));
  await db
    .delete(deploymentMetrics)
    .where(and(eq(deploymentMetrics.resolution, 3600), lt(deploymentMetrics.at, now - HOUR_RETENTION_S)));
  await db
    .delete(metricBatches)
    .where(lt(metricBatches.receivedAt, new Date(nowMs - MINUTE_RETENTION_S * 1000)));
  const oldest = now - HOUR_RETENTION_S;
  await db.delete(driftScores).where(lt(driftScores.window, oldest));
  await db
    .delete(driftSketches)
    .where(and(lt(driftSketches.window, oldest), eq(driftSketches.frozen, false)));
  await db.delete(alertEvents).where(lt(alertEvents.at, new Date(oldest * 1000)));
}
