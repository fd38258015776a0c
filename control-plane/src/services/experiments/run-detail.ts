import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { models, modelVersions, runMetrics, runParams, runTags } from '../../db/schema.js';
import type { Reader } from './types.js';

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: string;
}

/**
 * The latest point of every metric key of each run: highest step, then latest timestamp, then last logged
 * (MLflow's rule). One query for a page of runs; each run's points sorted by key.
 */
async function latestMetrics(db: Reader, runIds: readonly string[]): Promise<Map<string, MetricPoint[]>> {
  const byRun = new Map<string, MetricPoint[]>(runIds.map((id) => [id, []]));
  if (runIds.length === 0) return byRun;
  const ranked = db
    .select({
      runId: runMetrics.runId,
      key: runMetrics.key,
      value: runMetrics.value,
      step: runMetrics.step,
      timestamp: runMetrics.timestamp,
      rank: sql<number>`row_number() over (partition by ${runMetrics.runId}, ${runMetrics.key} order by ${runMetrics.step} desc, ${runMetrics.timestamp} desc, ${runMetrics.id} desc)`.as(
        'rank',
      ),
    })
    .from(runMetrics)
    .where(inArray(runMetrics.runId, [...runIds]))
    .as('ranked');
  const rows = await db.select().from(ranked).where(eq(ranked.rank, 1)).orderBy(asc(ranked.key));
  for (const r of rows)
    byRun.get(r.runId)?.push({
      key: r.key,
      value: r.value,
      step: r.step,
      timestamp: new Date(r.timestamp).toISOString(),
    });
  return byRun;
}

type KeyValueTable = typeof runParams | typeof runTags;

/** Each run's params or tags as one object, keys in order. */
async function keyValues(db: Reader, table: KeyValueTable, runIds: readonly string[]) {
  const byRun = new Map<string, Record<string, string>>(runIds.map((id) => [id, {}]));
  if (runIds.length === 0) return byRun;
  const rows = await db
    .select({ runId: table.runId, key: table.key, value: table.value })
    .from(table)
    .where(inArray(table.runId, [...runIds]))
    .orderBy(asc(table.key));
  for (const r of rows) {
    const values = byRun.get(r.runId);
    if (values) values[r.key] = r.value;
  }
  return byRun;
}

export interface RunSummary {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: MetricPoint[];
}

/**
 * What a list of runs carries beside each run: its params, tags and latest metrics, for comparing runs
 * side by side; three queries for the whole page. The caller has already scoped `runIds` to one org.
 */
export async function readRunSummaries(
  db: Reader,
  runIds: readonly string[],
): Promise<(runId: string) => RunSummary> {
  const [params, tags, metrics] = await Promise.all([
    keyValues(db, runParams, runIds),
    keyValues(db, runTags, runIds),
    latestMetrics(db, runIds),
  ]);
  return (runId) => ({
    params: params.get(runId) ?? {},
    tags: tags.get(runId) ?? {},
    metrics: metrics.get(runId) ?? [],
  });
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
  const [summaryOf, modelVersionsOfRun] = await Promise.all([
    readRunSummaries(db, [runId]),
    producedVersions(db, orgId, runId),
  ]);
  return { ...summaryOf(runId), modelVersions: modelVersionsOfRun };
}
