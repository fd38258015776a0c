import { and, eq, max as maxOf } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import { type BatchingSettings, deploymentRevisions, deployments, modelVersions } from '../../db/schema.js';
import { invalidField } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import type { Tx } from '../models/deps.js';
import { findVersion, requireReady } from '../models/records.js';
import { type CanaryInput, resolveCanary } from '../rollouts/policy.js';
import {
  type ActiveCanary,
  cancelCanary,
  findActiveCanary,
  promoteCanaryNow,
  startCanary,
} from '../rollouts/start.js';
import { IDLE_REASON } from '../scheduler/workload-specs.js';
import { agentsHolding, notifyAgents } from '../workloads/holders.js';
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
  /** Roll the new version out as a canary: a share of calls first, judged step by step. */
  canary?: CanaryInput;
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
 * Makes the next revision serving the version `ref` names, unless the current revision serves it already. With
 * a canary policy the current revision keeps serving while the new one takes its share (../rollouts/); without
 * one, the new revision becomes current and replaces the old replica by replica. A running canary is
 * superseded by a new version, cancelled by asking for the current one, and promoted at once by asking for
 * its own version without a policy; a policy with the current version, or with the running canary's, is refused
 * (it would roll nothing out). Asking for the current version by another name (an alias that names it,
 * or its number) rolls nothing out but records that name, which is what the deployment shows it was asked
 * as; `renamed` then holds the change in words.
 */
async function rollOut(
  tx: Tx,
  row: DeploymentRow,
  ref: VersionRef,
  canary: CanaryInput | undefined,
): Promise<{ revision?: number; renamed?: string }> {
  const version = await findVersion(tx, row.modelId, ref.ref);
  requireReady(version);
  assertRuntimeServes(row.runtime, version);
  const [current] = await tx
    .select({
      versionId: deploymentRevisions.modelVersionId,
      version: modelVersions.version,
      requested: deploymentRevisions.requested,
    })
    .from(deploymentRevisions)
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(and(eq(deploymentRevisions.deploymentId, row.id), eq(deploymentRevisions.revision, row.revision)));
  const running = await findActiveCanary(tx, row.id);
  // A canary with nothing new to roll out would change nothing while the answer looked like an update.
  if (canary && current?.versionId === version.id)
    throw invalidField(
      'canary',
      `${row.name} serves v${version.version} already: a canary rolls out another version` +
        (running ? ` (to cancel the running canary, ask for v${version.version} without canary)` : ''),
    );
  if (canary && running?.versionId === version.id)
    throw invalidField(
      'canary',
      `v${version.version} rolls out as a canary on ${row.name} already: ask for it without canary to promote it now`,
    );
  if (current?.versionId === version.id) {
    const renamed =
      current.requested === ref.requested
        ? undefined
        : await renameCurrent(tx, row, current.requested, ref.requested);
    if (!running) return { renamed };
    await cancelCanary(tx, row, running, `v${version.version} was asked for again`);
    return { revision: running.revision, renamed };
  }
  if (running?.versionId === version.id) {
    await promoteCanaryNow(tx, row, running, current?.version ?? 0);
    return { revision: running.revision };
  }
  const revision = await nextRevision(tx, row.id);
  await tx.insert(deploymentRevisions).values({
    deploymentId: row.id,
    revision,
    modelVersionId: version.id,
    requested: ref.requested,
  });
  if (running) await supersede(tx, row, running, { revision, version: version.version });
  await recordEvent(tx, {
    deploymentId: row.id,
    orgId: row.orgId,
    type: 'rollout_requested',
    message: `Revision ${revision} requested: version ${version.version} (${ref.requested})${canary ? ', as a canary' : ''}`,
  });
  if (canary)
    await startCanary(tx, row, revision, resolveCanary(canary), {
      canary: version.version,
      base: current?.version ?? 0,
    });
  else
    await tx
      .update(deployments)
      // Not ready until the new revision's replicas are: the old ones still serve, but a reader waiting for
      // this version (`deploy --wait`) must not see the old revision's `ready` until the scheduler's next tick.
      // At zero nothing starts before a call, so a deployment at zero stays idle. One whose last replica still
      // retires (`ready` at 0) is idle too: that replica serves the old revision, so nothing serves the new one.
      .set(
        atZero(row)
          ? { revision, status: 'idle', statusReason: IDLE_REASON }
          : {
              revision,
              status: 'pending',
              statusReason: `rolling out version ${version.version}`,
              // The new revision has not failed to start (yet): what the old one met is not its problem.
              startProblem: null,
            },
      )
      .where(eq(deployments.id, row.id));
  return { revision };
}

/** Records the new name the current revision's version was asked by; nothing is rolled out. */
async function renameCurrent(tx: Tx, row: DeploymentRow, before: string, after: string): Promise<string> {
  await tx
    .update(deploymentRevisions)
    .set({ requested: after })
    .where(and(eq(deploymentRevisions.deploymentId, row.id), eq(deploymentRevisions.revision, row.revision)));
  return `the name it was asked by ${before} → ${after} (the same version, nothing rolled out)`;
}

/** The revision after every one the deployment ever had (a rolled-back canary's number is never reused). */
async function nextRevision(tx: Tx, deploymentId: string): Promise<number> {
  const [top] = await tx
    .select({ n: maxOf(deploymentRevisions.revision) })
    .from(deploymentRevisions)
    .where(eq(deploymentRevisions.deploymentId, deploymentId));
  return (top?.n ?? 0) + 1;
}

async function supersede(
  tx: Tx,
  row: DeploymentRow,
  running: ActiveCanary,
  by: { revision: number; version: number },
) {
  await cancelCanary(
    tx,
    row,
    running,
    `v${by.version} (revision ${by.revision}) supersedes it`,
    'superseded',
  );
}

async function currentRevision(tx: Tx, id: string): Promise<number | undefined> {
  const [row] = await tx
    .select({ revision: deployments.revision })
    .from(deployments)
    .where(eq(deployments.id, id));
  return row?.revision;
}

/** Scaled to zero: idle, or `ready` at 0 while its last replica retires (the scheduler's `scaling to zero`). */
const atZero = (row: DeploymentRow) =>
  row.status === 'idle' || (row.status === 'ready' && row.desiredReplicas === 0);

/**
 * An idle deployment whose new bounds want replicas (`--min 1` at zero) is starting: its status says so at
 * once, as a rollout's does, rather than `idle` until the scheduler's next tick places them. The answer to
 * the change and a reader waiting for it (`deploy --wait`, which stops at idle) then see it starting. One
 * still scaling to zero (`ready` at 0 while its last replica retires) keeps that replica, still loaded: the
 * scheduler takes it back rather than starting one from cold, so its answer no longer says it is going;
 * unless the same change rolls out a new version: that replica serves the old one, so the new one starts from
 * zero like an idle deployment's.
 */
function statusOnScaleUp(row: DeploymentRow, desiredReplicas: number, revisionMoved: boolean) {
  if (desiredReplicas === 0 || !atZero(row)) return {};
  if (row.status === 'ready' && !revisionMoved)
    return { statusReason: 'taking back its retiring replica, still loaded' };
  const replicas = desiredReplicas === 1 ? '1 replica' : `${desiredReplicas} replicas`;
  return { status: 'pending' as const, statusReason: `starting ${replicas} from zero` };
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
  if (input.canary && !ref)
    throw invalidField('canary', 'only with version or alias: a canary is how a new version rolls out');
  // Checked before anything is written, so a bad policy answers 400 whatever else the body says.
  if (input.canary) resolveCanary(input.canary);
  const batchingChanged = await deps.db.transaction(async (tx) => {
    const row = await findDeployment(tx, orgId, id);
    const { revision, renamed } = ref ? await rollOut(tx, row, ref, input.canary) : {};
    const { set, described } = inPlaceChanges(row, input);
    if (renamed) described.push(renamed);
    if (revision === undefined && described.length === 0) return false;
    // The autoscaler's target moves into the new bounds at once; within them it is the autoscaler's to move.
    const min = set.minReplicas ?? row.minReplicas;
    const max = set.maxReplicas ?? row.maxReplicas;
    const desiredReplicas = Math.min(max, Math.max(min, row.desiredReplicas));
    // Whether the current revision moved: a rollout or a canary's promotion does, a canary started does not.
    const moved = revision !== undefined && (await currentRevision(tx, id)) !== row.revision;
    await tx
      .update(deployments)
      .set({
        ...set,
        desiredReplicas,
        ...statusOnScaleUp(row, desiredReplicas, moved),
        updatedAt: new Date(),
      })
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
      metadata: {
        name: row.name,
        fields: Object.keys(set),
        ...(revision ? { revision, requested: ref?.requested, canary: input.canary !== undefined } : {}),
        ...(renamed ? { requested: ref?.requested } : {}),
      },
    });
    return set.batching !== undefined;
  });
  // Batching is part of what each agent runs (its replicas are reconfigured in place): the agents holding a
  // replica learn of it now, where the scheduler only moves their desired state when it places or retires one.
  if (batchingChanged)
    await notifyAgents(deps.db, deps.changes, await agentsHolding(deps.db, { deploymentId: id }));
  deps.scheduler.kick();
  return presentDeployment(deps.db, await findDeployment(deps.db, orgId, id));
}
