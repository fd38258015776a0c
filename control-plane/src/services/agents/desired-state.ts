import type { DesiredState, DesiredStatePoll } from '@meridian/protocol';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agents } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import { agentDataPlaneKey } from '../../lib/data-plane-keys.js';
import { imagePolicyFor } from '../images/images.js';
import type { AgentServiceDeps } from './deps.js';
import type { DesiredStateChanges } from './desired-state-changes.js';
import { desiredWorkloadsOf } from './desired-workloads.js';
import { recordPlacements } from './placements.js';

export const MAX_POLL_WAIT_SECONDS = 30;

/**
 * What `agentId` should run now: the workloads the scheduler placed on it, and its data-plane key. The
 * deployments named are recorded as placed on it (for good): its prediction usage may bill them.
 */
export async function desiredStateFor(
  deps: Pick<AgentServiceDeps, 'db' | 'objectStore' | 'dataPlaneSigningKey'>,
  agentId: string,
): Promise<DesiredState> {
  const [row] = await deps.db
    .select({ version: agents.desiredVersion, keyGeneration: agents.dataPlaneKeyGeneration })
    .from(agents)
    .where(eq(agents.id, agentId));
  if (!row) throw notFound('Agent');
  const workloads = await desiredWorkloadsOf(deps.db, deps.objectStore, agentId);
  await recordPlacements(deps.db, agentId, workloads);
  return {
    version: row.version,
    workloads,
    images: await imagePolicyFor(
      deps.db,
      workloads.flatMap((w) => (w.orgId === undefined ? [] : [w.orgId])),
    ),
    dataPlaneKey: agentDataPlaneKey(deps.dataPlaneSigningKey, agentId, row.keyGeneration),
  };
}

/** Marks `agentId`'s desired state as changed (the version moves on) and wakes its long polls. */
export async function markDesiredStateChanged(db: Database, changes: DesiredStateChanges, agentId: string) {
  await db
    .update(agents)
    .set({ desiredVersion: sql`${agents.desiredVersion} + 1` })
    .where(eq(agents.id, agentId));
  changes.notify(agentId);
}

/**
 * The long poll: the state at once when its version differs from `since` (newer, or older after a database
 * restore: either way the agent's copy is stale), else waits up to `waitSeconds` for a change.
 */
export async function pollDesiredState(
  deps: AgentServiceDeps,
  agentId: string,
  query: { since?: number; waitSeconds: number },
  signal?: AbortSignal,
): Promise<DesiredStatePoll> {
  const deadline = Date.now() + Math.min(query.waitSeconds, MAX_POLL_WAIT_SECONDS) * 1000;
  for (;;) {
    const subscription = deps.changes.subscribe(agentId);
    try {
      const state = await desiredStateFor(deps, agentId);
      if (query.since === undefined || state.version !== query.since) return state;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { unchanged: true, version: state.version };
      await firstOf(subscription.changed, left, signal);
    } finally {
      subscription.cancel();
    }
  }
}

/** Resolves when `changed` does, `ms` pass, or `signal` aborts (the agent hung up), whichever is first. */
function firstOf(changed: Promise<void>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    void changed.then(done);
  });
}
