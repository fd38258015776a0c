import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { models, modelVersions, runMetrics, runParams, runTags } from '../../db/schema.js';
import type { Reader } from './types.js';

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: string;
}

const toMap = (rows: { key: string; value: string }[]) =>
  Object.fromEntries(rows.map((r) => [r.key, r.value])) as Record<string, string>;

/** The latest point of every metric key: highest step, then latest timestamp, then last logged (MLflow's rule). */
async function latestMetrics(db: Reader, runId: string): Promise<MetricPoint[]> {
  const ranked = db
    .select({
      key: runMetrics.key,
      value: runMetrics.value,
      step: runMetrics.step,
      timestamp: runMetrics.timestamp,
      rank: sql<number>`row_number() over (partition by ${runMetrics.key} order by ${runMetrics.step} desc, ${runMetrics.timestamp} desc, ${runMetrics.id} desc)`.as(
        'rank',
      ),
    })
    .from(runMetrics)
    .where(eq(runMetrics.runId, runId))
    .as('ranked');
  const rows = await db.select().from(ranked).where(eq(ranked.rank, 1)).orderBy(asc(ranked.key));
  return rows.map((r) => ({
    key: r.key,
    value: r.value,
    step: r.step,
    timestamp: new Date(r.timestamp).toISOString(),
  }));
}

/** Model versions of the same org that name `runId` as the run they came from. */
async function producedVersions(db: Reader, orgId: string, runId: string) {
  const rows = await db
    .select({
      id: modelVersions.id,
      modelId: modelVersions.modelId,
      modelName: models.name,
      version: modelVersions.version,
      status: modelVersions.status,
      createdAt: modelVersions.createdAt,
    })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(and(eq(modelVersions.orgId, orgId), eq(models.orgId, orgId), eq(modelVersions.runId, runId)))
    .orderBy(desc(modelVersions.createdAt), desc(modelVersions.id));
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

/** What GET /v1/runs/{id} adds to the run itself; the caller has already checked the run is in `orgId`. */
export async function readRunDetail(db: Reader, orgId: string, runId: string) {
  const [params, tags, metrics, modelVersionsOfRun] = await Promise.all([
    db
      .select({ key: runParams.key, value: runParams.value })
      .from(runParams)
      .where(eq(runParams.runId, runId))
      .orderBy(asc(runParams.key)),
    db
      .select({ key: runTags.key, value: runTags.value })
      .from(runTags)
      .where(eq(runTags.runId, runId))
      .orderBy(asc(runTags.key)),
    latestMetrics(db, runId),
    producedVersions(db, orgId, runId),
  ]);
  return { params: toMap(params), tags: toMap(tags), metrics, modelVersions: modelVersionsOfRun };
}
