import { type GpuType, newId } from '@meridian/protocol';
import { and, desc, eq, lt } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor, Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { type BatchingSettings, deploymentRevisions, deployments } from '../../db/schema.js';
import { violatesUnique } from '../../db/unique-violation.js';
import { conflict, invalidField } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { assertImageAllowed } from '../images/images.js';
import type { Reader } from '../models/deps.js';
import { findVersion, requireReady } from '../models/records.js';
import { idCursor, splitPage } from '../pagination.js';
import { resolveGpuCount } from '../workloads/gpu-request.js';
import { agentsHolding, notifyAgents } from '../workloads/holders.js';
import {
  type AutoscalingInput,
  describeScaling,
  initialReplicas,
  resolveAutoscaling,
} from './autoscaling.js';
import type { DeploymentDeps } from './deps.js';
import { type EventOrder, listEventsOf, recordEvent } from './events.js';
import { findDeployment, presentDeployment, presentDeployments } from './records.js';
import { assertImageFits, assertRuntimeServes, type Runtime, resolveModel, versionRefOf } from './rules.js';

export interface DeploymentInput extends AutoscalingInput {
  name: string;
  /** The model's id or its name in the caller's org. */
  model: string;
  version?: number;
  alias?: string;
  runtime?: Runtime;
  image?: string;
  gpuType: GpuType;
  gpuCount?: number;
  batching?: BatchingSettings;
  deterministic?: boolean;
}

export const nameTaken = (name: string) =>
  conflict(`A deployment named ${JSON.stringify(name)} already exists`);

async function assertNameFree(db: Reader, orgId: string, name: string) {
  const [taken] = await db
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.name, name)));
  if (taken) throw nameTaken(name);
}

/** The unique index catches the race two concurrent creates of one name would otherwise both win. */
const actorId = (p: Principal) => (p.type === 'user' ? p.userId : p.keyId);

/**
 * Records the intent to serve a ready model version: the deployment, its revision 1 and a `created` event.
 * The scheduler places its replicas; this only wakes it.
 */
export async function createDeployment(deps: DeploymentDeps, actor: Actor, input: DeploymentInput) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const ref = versionRefOf(input);
  if (!ref) throw invalidField('version', 'give version or alias: the model version to serve');
  const gpuCount = resolveGpuCount(input.gpuType, input.gpuCount);
  const scaling = resolveAutoscaling(input);
  const { minReplicas, maxReplicas } = scaling;
  const id = newId('deployment');
  try {
    await deps.db.transaction(async (tx) => {
      const model = await resolveModel(tx, orgId, input.model);
      const version = await findVersion(tx, model.id, ref.ref);
      requireReady(version);
      const runtime = input.runtime ?? version.runtime;
      assertRuntimeServes(runtime, version);
      assertImageFits(runtime, input.image);
      // Checked here, not only by the agent that would refuse to pull it, so the tenant hears at once.
      if (input.image) await assertImageAllowed(tx, orgId, input.image);
      await assertNameFree(tx, orgId, input.name);
      await tx.insert(deployments).values({
        id,
        orgId,
        name: input.name,
        modelId: model.id,
        runtime,
        image: input.image ?? null,
        gpuType: input.gpuType,
        gpuCount,
        ...scaling,
        desiredReplicas: initialReplicas(scaling),
        batching: input.batching ?? null,
        deterministic: input.deterministic ?? false,
        revision: 1,
        createdBy: actorId(actor.principal),
        updatedAt: new Date(),
      });
      await tx
        .insert(deploymentRevisions)
        .values({ deploymentId: id, revision: 1, modelVersionId: version.id, requested: ref.requested });
      await recordEvent(tx, {
        deploymentId: id,
        orgId,
        type: 'created',
        message:
          `Created: ${model.name} version ${version.version} (${ref.requested}) on ${runtime}, ` +
          `${minReplicas}–${maxReplicas} replicas of ${gpuCount === 0 ? 'cpu' : `${gpuCount}× ${input.gpuType}`}, ` +
          describeScaling(scaling),
      });
      await recordAudit(tx, actor, {
        orgId,
        action: 'deployment.create',
        targetType: 'deployment',
        targetId: id,
        metadata: { name: input.name, modelId: model.id, versionId: version.id, requested: ref.requested },
      });
    });
  } catch (err) {
    if (violatesUnique(err, 'deployments.org_id, deployments.name')) throw nameTaken(input.name);
    throw err;
  }
  deps.scheduler.kick();
  return presentDeployment(deps.db, await findDeployment(deps.db, orgId, id));
}

export async function listDeployments(
  db: Database,
  actor: Actor,
  page: { limit: number; cursor?: string; name?: string },
) {
  requirePermission(actor.principal, 'deployments:read');
  const after = idCursor(page.cursor, 'dep');
  const rows = await db
    .select()
    .from(deployments)
    .where(
      and(
        eq(deployments.orgId, actor.principal.orgId),
        after ? lt(deployments.id, after) : undefined,
        page.name ? eq(deployments.name, page.name) : undefined,
      ),
    )
    .orderBy(desc(deployments.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return { items: await presentDeployments(db, items), nextCursor };
}

export async function getDeployment(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'deployments:read');
  return presentDeployment(db, await findDeployment(db, actor.principal.orgId, id));
}

export async function listDeploymentEvents(
  db: Database,
  actor: Actor,
  id: string,
  page: { limit: number; cursor?: string; order?: EventOrder },
) {
  requirePermission(actor.principal, 'deployments:read');
  await findDeployment(db, actor.principal.orgId, id);
  return listEventsOf(db, id, page);
}

/**
 * Deletes a deployment; its revisions, events and workloads go with it (cascade). Every agent that held one
 * of its workloads gets a new desired-state version, so it stops the replica on its next poll.
 */
export async function deleteDeployment(deps: DeploymentDeps, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const holders = await deps.db.transaction(async (tx) => {
    const row = await findDeployment(tx, orgId, id);
    const agentIds = await agentsHolding(tx, { deploymentId: id });
    await tx.delete(deployments).where(and(eq(deployments.orgId, orgId), eq(deployments.id, id)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'deployment.delete',
      targetType: 'deployment',
      targetId: id,
      metadata: { name: row.name, revision: row.revision },
    });
    return agentIds;
  });
  await notifyAgents(deps.db, deps.changes, holders);
  deps.scheduler.kick();
}
