import type { DesiredWorkload } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentRevisions, deployments, modelVersions, notebooks, workloads } from '../../db/schema.js';
import type { ObjectStore } from '../../storage/object-store.js';

/**
 * Long enough for a large model to download on a slow link; an agent re-polls (and gets fresh URLs) whenever
 * its desired state changes, and compares specs without the URL, so re-signing never restarts a replica.
 */
export const MODEL_URL_TTL_SECONDS = 6 * 3600;

/** The path under which the edge proxies a notebook, and under which its server therefore answers. */
export const notebookBasePath = (notebookId: string) => `/notebooks/${notebookId}/`;

/** Every workload placed on `agentId`, as the agent protocol describes it, with signed model URLs. */
export async function desiredWorkloadsOf(
  db: Database,
  store: ObjectStore,
  agentId: string,
): Promise<DesiredWorkload[]> {
  const models = await db
    .select({
      workloadId: workloads.id,
      orgId: workloads.orgId,
      gpuType: workloads.gpuType,
      gpuCount: workloads.gpuCount,
      deploymentId: workloads.deploymentId,
      deploymentName: deployments.name,
      versionNumber: modelVersions.version,
      image: deployments.image,
      batching: deployments.batching,
      versionId: modelVersions.id,
      format: modelVersions.format,
      runtime: modelVersions.runtime,
      sha256: modelVersions.sha256,
      sizeBytes: modelVersions.sizeBytes,
      objectKey: modelVersions.objectKey,
    })
    .from(workloads)
    .innerJoin(deployments, eq(deployments.id, workloads.deploymentId))
    .innerJoin(
      deploymentRevisions,
      and(
        eq(deploymentRevisions.deploymentId, workloads.deploymentId),
        eq(deploymentRevisions.revision, workloads.revision),
      ),
    )
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(and(eq(workloads.agentId, agentId), eq(workloads.kind, 'model')));

  const books = await db
    .select({
      workloadId: workloads.id,
      orgId: workloads.orgId,
      gpuType: workloads.gpuType,
      gpuCount: workloads.gpuCount,
      notebookId: notebooks.id,
      notebookName: notebooks.name,
      image: notebooks.image,
      idleTimeoutSeconds: notebooks.idleTimeoutSeconds,
      token: notebooks.token,
    })
    .from(workloads)
    .innerJoin(notebooks, eq(notebooks.id, workloads.notebookId))
    .where(and(eq(workloads.agentId, agentId), eq(workloads.kind, 'notebook')));

  const out: DesiredWorkload[] = [];
  for (const m of models) {
    // Only ready versions can be deployed, so digest and size are set; a row without them is skipped, not sent.
    if (!m.deploymentId || !m.sha256 || m.sizeBytes === null) continue;
    out.push({
      kind: 'model',
      workloadId: m.workloadId,
      orgId: m.orgId,
      deploymentId: m.deploymentId,
      displayName: `${m.deploymentName} v${m.versionNumber}`,
      gpuType: m.gpuType,
      gpuCount: m.gpuCount,
      model: {
        versionId: m.versionId,
        format: m.format,
        runtime: m.runtime,
        sha256: m.sha256,
        sizeBytes: m.sizeBytes,
        downloadUrl: await store.presignGet(m.objectKey, MODEL_URL_TTL_SECONDS),
      },
      ...(m.image ? { image: m.image } : {}),
      ...(m.batching ? { batching: m.batching } : {}),
    });
  }
  for (const b of books) {
    out.push({
      kind: 'notebook',
      workloadId: b.workloadId,
      orgId: b.orgId,
      notebookId: b.notebookId,
      displayName: b.notebookName,
      gpuType: b.gpuType,
      gpuCount: b.gpuCount,
      image: b.image,
      idleTimeoutSeconds: b.idleTimeoutSeconds,
      token: b.token,
      basePath: notebookBasePath(b.notebookId),
    });
  }
  return out.sort((a, b) => (a.workloadId < b.workloadId ? -1 : 1));
}
