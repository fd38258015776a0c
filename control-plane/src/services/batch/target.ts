import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentRevisions, deployments, modelVersions } from '../../db/schema.js';
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

/** What a job's lines are checked against: the deployment's names and its current revision's model inputs. */
export async function loadTarget(db: Database, orgId: string, deploymentId: string): Promise<LineTarget> {
  const deployment = await findDeployment(db, orgId, deploymentId);
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
