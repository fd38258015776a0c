import { and, desc, eq, gte } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { deployments, driftScores, driftSketches } from '../../db/schema.js';
import { notFound } from '../../errors.js';

/**
 * A deployment's drift: per feature, the reference (samples, complete or not) and the scores of its windows
 * updated since `fromSeconds` (a window may have started long before), newest first, with the method that judged each (KS, chi², PSI) and the verdict.
 */
export async function getDeploymentDrift(
  db: Database,
  actor: Actor,
  deploymentId: string,
  fromSeconds: number,
) {
  requirePermission(actor.principal, 'deployments:read');
  const orgId = actor.principal.orgId;
  const [deployment] = await db
    .select({ id: deployments.id, name: deployments.name })
    .from(deployments)
    .where(and(eq(deployments.id, deploymentId), eq(deployments.orgId, orgId)));
  if (!deployment) throw notFound('Deployment');
  const references = await db
    .select({ feature: driftSketches.feature, count: driftSketches.count, frozen: driftSketches.frozen })
    .from(driftSketches)
    .where(
      and(
        eq(driftSketches.deploymentId, deploymentId),
        eq(driftSketches.orgId, orgId),
        eq(driftSketches.window, 0),
      ),
    );
  const scores = await db
    .select()
    .from(driftScores)
    .where(
      and(
        eq(driftScores.deploymentId, deploymentId),
        eq(driftScores.orgId, orgId),
        gte(driftScores.at, new Date(fromSeconds * 1000)),
      ),
    )
    .orderBy(desc(driftScores.window), driftScores.feature)
    .limit(5_000);
  const features = references
    .sort((a, b) => a.feature.localeCompare(b.feature, undefined, { numeric: true }))
    .map((r) => ({
      feature: r.feature,
      reference: { samples: r.count, complete: r.frozen },
      windows: scores
        .filter((s) => s.feature === r.feature)
        .map((s) => ({
          window: new Date(s.window * 1000).toISOString(),
          method: s.method,
          score: s.score,
          pValue: s.pValue,
          drifted: s.drifted,
          samples: s.count,
        })),
    }));
  return {
    deploymentId,
    name: deployment.name,
    drifted: features.filter((f) => f.windows[0]?.drifted).map((f) => f.feature),
    features,
  };
}
