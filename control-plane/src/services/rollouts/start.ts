import { and, eq } from 'drizzle-orm';
import {
  type CanaryPolicy,
  deploymentRevisions,
  deploymentRollouts,
  deployments,
  modelVersions,
} from '../../db/schema.js';
import { recordEvent } from '../deployments/events.js';
import type { DeploymentRow } from '../deployments/records.js';
import type { Tx } from '../models/deps.js';
import { describeCanary } from './policy.js';

// What a PATCH does to canaries, inside its transaction: start one, and cancel, supersede or promote the one
// running. The scheduler does the rest (./advance.ts).

export interface ActiveCanary {
  revision: number;
  baseRevision: number;
  /** The model version the canary serves, and its number (what events and the rollout's reason name). */
  versionId: string;
  version: number;
}

/** The deployment's running canary, if any (at most one runs: a new one supersedes it). */
export async function findActiveCanary(tx: Tx, deploymentId: string): Promise<ActiveCanary | undefined> {
  const [found] = await tx
    .select({
      revision: deploymentRollouts.revision,
      baseRevision: deploymentRollouts.baseRevision,
      versionId: deploymentRevisions.modelVersionId,
      version: modelVersions.version,
    })
    .from(deploymentRollouts)
    .innerJoin(
      deploymentRevisions,
      and(
        eq(deploymentRevisions.deploymentId, deploymentRollouts.deploymentId),
        eq(deploymentRevisions.revision, deploymentRollouts.revision),
      ),
    )
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(and(eq(deploymentRollouts.deploymentId, deploymentId), eq(deploymentRollouts.state, 'canary')));
  return found;
}

/** The version numbers of a canary and of the current revision it is judged against, as users know them. */
export interface CanaryVersions {
  canary: number;
  base: number;
}

/** Revision `revision` starts as a canary against the deployment's current revision. */
export async function startCanary(
  tx: Tx,
  row: DeploymentRow,
  revision: number,
  policy: CanaryPolicy,
  versions: CanaryVersions,
) {
  await tx.insert(deploymentRollouts).values({
    deploymentId: row.id,
    revision,
    baseRevision: row.revision,
    orgId: row.orgId,
    policy,
  });
  await recordEvent(tx, {
    deploymentId: row.id,
    orgId: row.orgId,
    type: 'canary_requested',
    message:
      `Canary v${versions.canary} (revision ${revision}) rolls out against v${versions.base} ` +
      `(revision ${row.revision}): ${describeCanary(policy)}`,
  });
}

const running = (deploymentId: string, revision: number) =>
  and(
    eq(deploymentRollouts.deploymentId, deploymentId),
    eq(deploymentRollouts.revision, revision),
    eq(deploymentRollouts.state, 'canary'),
  );

/** The running canary stops: its calls go back to the current revision and its replicas are retired. */
export async function cancelCanary(
  tx: Tx,
  row: DeploymentRow,
  canary: ActiveCanary,
  why: string,
  state: 'cancelled' | 'superseded' = 'cancelled',
) {
  const message = `Canary v${canary.version} (revision ${canary.revision}) ${state}: ${why}`;
  await tx
    .update(deploymentRollouts)
    .set({ state, reason: message, finishedAt: new Date() })
    .where(running(row.id, canary.revision));
  await recordEvent(tx, { deploymentId: row.id, orgId: row.orgId, type: 'updated', message });
}

/** The running canary becomes the current revision now, without waiting for its steps. */
export async function promoteCanaryNow(
  tx: Tx,
  row: DeploymentRow,
  canary: ActiveCanary,
  baseVersion: number,
) {
  const message =
    `Canary v${canary.version} (revision ${canary.revision}) promoted on request: ` +
    `it replaces v${baseVersion} (revision ${row.revision})`;
  await tx
    .update(deploymentRollouts)
    .set({ state: 'promoted', reason: message, finishedAt: new Date() })
    .where(running(row.id, canary.revision));
  await tx.update(deployments).set({ revision: canary.revision }).where(eq(deployments.id, row.id));
  await recordEvent(tx, { deploymentId: row.id, orgId: row.orgId, type: 'updated', message });
}
