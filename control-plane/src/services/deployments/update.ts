import { and, eq, sql } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import { type BatchingSettings, deploymentRevisions, deployments } from '../../db/schema.js';
import type { Actor } from '../../http/context.js';
import { recordAudit } from '../audit/record.js';
import type { Tx } from '../models/deps.js';
import { findVersion, requireReady } from '../models/records.js';
import { AUTOSCALING_FIELDS, type AutoscalingInput, resolveAutoscaling } from './autoscaling.js';
import type { DeploymentDeps } from './deps.js';
import { recordEvent } from './events.js';
import { type DeploymentRow, findDeployment, presentDeployment } from './records.js';
import { assertRuntimeServes, type VersionRef, versionRefOf } from './rules.js';

export interface DeploymentUpdate extends AutoscalingInput {
  version?: number;
  alias?: string;
  deterministic?: boolean;
  /** `null` turns dynamic batching off (the agent's defaults apply). */
  batching?: BatchingSettings | null;
}

type InPlace = Pick<DeploymentRow, (typeof IN_PLACE)[number]>;
const IN_PLACE = [...AUTOSCALING_FIELDS, 'deterministic', 'batching'] as const;

/** The settings `input` changes, old and new; equal values are no change. */
function inPlaceChanges(row: DeploymentRow, input: DeploymentUpdate) {
  const scaling = resolveAutoscaling(input, row);
  const wanted = { ...input, ...scaling };
  const set: Partial<InPlace> = {};
  const described: string[] = [];
  for (const field of IN_PLACE) {
    const next = wanted[field];
    if (next === undefined || JSON.stringify(next) === JSON.stringify(row[field])) continue;
    Object.assign(set, { [field]: next });
    described.push(`${field} ${JSON.stringify(row[field])} → ${JSON.stringify(next)}`);
  }
  return { set, described };
}

/**
 * Makes revision n+1 serving the version `ref` names, unless the current revision serves it already.
 * The counter moves with one UPDATE … RETURNING, so two concurrent rollouts never share a number.
 */
async function rollOut(tx: Tx, row: DeploymentRow, ref: VersionRef): Promise<number | undefined> {
  const version = await findVersion(tx, row.modelId, ref.ref);
  requireReady(version);
  assertRuntimeServes(row.runtime, version);
  const [current] = await tx
    .select({ versionId: deploymentRevisions.modelVersionId })
    .from(deploymentRevisions)
    .where(and(eq(deploymentRevisions.deploymentId, row.id), eq(deploymentRevisions.revision, row.revision)));
  if (current?.versionId === version.id) return undefined;
  const [bumped] = await tx
    .update(deployments)
    .set({ revision: sql`${deployments.revision} + 1` })
    .where(eq(deployments.id, row.id))
    .returning({ revision: deployments.revision });
  if (!bumped) throw new Error('deployment vanished inside its transaction');
  await tx.insert(deploymentRevisions).values({
    deploymentId: row.id,
    revision: bumped.revision,
    modelVersionId: version.id,
    requested: ref.requested,
  });
  await recordEvent(tx, {
    deploymentId: row.id,
    orgId: row.orgId,
    type: 'rollout_requested',
    message: `Revision ${bumped.revision} requested: version ${version.version} (${ref.requested})`,
  });
  return bumped.revision;
}

/**
 * A new version (`version` or `alias`) becomes a new revision the scheduler rolls out; replica bounds,
 * batching and determinism change in place. A request that changes nothing writes nothing.
 */
export async function updateDeployment(
  deps: DeploymentDeps,
  actor: Actor,
  id: string,
  input: DeploymentUpdate,
) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const ref = versionRefOf(input);
  await deps.db.transaction(async (tx) => {
    const row = await findDeployment(tx, orgId, id);
    const revision = ref ? await rollOut(tx, row, ref) : undefined;
    const { set, described } = inPlaceChanges(row, input);
    if (revision === undefined && described.length === 0) return;
    // The autoscaler's target moves into the new bounds at once; within them it is the autoscaler's to move.
    const min = set.minReplicas ?? row.minReplicas;
    const max = set.maxReplicas ?? row.maxReplicas;
    const desiredReplicas = Math.min(max, Math.max(min, row.desiredReplicas));
    await tx
      .update(deployments)
      .set({ ...set, desiredReplicas, updatedAt: new Date() })
      .where(eq(deployments.id, id));
    if (described.length > 0) {
      await recordEvent(tx, {
        deploymentId: id,
        orgId,
        type: 'updated',
        message: `Changed ${described.join(', ')}`,
      });
    }
    await recordAudit(tx, actor, {
      orgId,
      action: 'deployment.update',
      targetType: 'deployment',
      targetId: id,
      metadata: { fields: Object.keys(set), ...(revision ? { revision, requested: ref?.requested } : {}) },
    });
  });
  deps.scheduler.kick();
  return presentDeployment(deps.db, await findDeployment(deps.db, orgId, id));
}
