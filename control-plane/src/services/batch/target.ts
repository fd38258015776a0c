import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type BatchJobError, deploymentRevisions, deployments, modelVersions } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { InputSpec, LineTarget } from './lines.js';

/** A deployment of the org by id or name (another org's answers 404 like a missing one). */
export async function findDeployment(db: Database, orgId: string, ref: string) {
  const [byId] = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.id, ref)));
  if (byId) return byId;
  const [byName] = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.name, ref)));
  if (!byName) throw notFound('Deployment');
  return byName;
}

/** Why a job whose deployment was deleted ends: no replica will ever answer its lines. */
export const deploymentDeleted = (name: string): BatchJobError => ({
  code: 'deployment_deleted',
  message: `the deployment '${name}' was deleted`,
});

/** Whether a deployment of the org still exists, and why it cannot start if it cannot (undefined: deleted). */
export async function deploymentStanding(db: Database, orgId: string, deploymentId: string) {
  const [row] = await db
    .select({ startProblem: deployments.startProblem })
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.id, deploymentId)));
  return row;
}

/**
 * What a job's lines are checked against: the deployment's names and its current revision's model inputs;
 * undefined when the deployment was deleted since the job was created.
 */
export async function loadTarget(
  db: Database,
  orgId: string,
  deploymentId: string,
): Promise<LineTarget | undefined> {
  const [deployment] = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.id, deploymentId)));
  if (!deployment) return undefined;
  const [row] = await db
    .select({ signature: modelVersions.signature })
    .from(deploymentRevisions)
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(
      and(
        eq(deploymentRevisions.deploymentId, deployment.id),
        eq(deploymentRevisions.revision, deployment.revision),
      ),
    );
  const signature = row?.signature as { inputs?: InputSpec[] } | null | undefined;
  const inputs = (signature?.inputs ?? []).map(({ name, datatype, shape }) => ({ name, datatype, shape }));
  return { deploymentId: deployment.id, name: deployment.name, inputs };
}
