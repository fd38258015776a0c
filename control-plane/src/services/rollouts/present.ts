import { and, desc, eq, inArray } from 'drizzle-orm';
import { deploymentRevisions, deploymentRollouts, modelVersions } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** Each deployment's newest canary rollout as the API shows it: where it stands and what it saw last. */
export async function latestRollouts(db: Reader, deploymentIds: string[]) {
  const found = new Map<string, RolloutView>();
  if (deploymentIds.length === 0) return found;
  const rows = await db
    .select()
    .from(deploymentRollouts)
    .where(inArray(deploymentRollouts.deploymentId, deploymentIds))
    .orderBy(desc(deploymentRollouts.revision));
  const seen = new Set<string>();
  const latest = rows.filter((r) => !seen.has(r.deploymentId) && seen.add(r.deploymentId));
  if (latest.length === 0) return found;
  const versions = await db
    .select({
      deploymentId: deploymentRevisions.deploymentId,
      revision: deploymentRevisions.revision,
      version: modelVersions.version,
    })
    .from(deploymentRevisions)
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(
      and(
        inArray(
          deploymentRevisions.deploymentId,
          latest.map((r) => r.deploymentId),
        ),
        inArray(deploymentRevisions.revision, [
          ...new Set(latest.flatMap((r) => [r.revision, r.baseRevision])),
        ]),
      ),
    );
  const versionOf = (deploymentId: string, revision: number) =>
    versions.find((v) => v.deploymentId === deploymentId && v.revision === revision)?.version ?? null;
  for (const r of latest) {
    const { steps, ...judging } = r.policy;
    const share =
      r.state === 'promoted'
        ? 1
        : r.state === 'canary'
          ? (steps[Math.min(r.step, steps.length - 1)] ?? 0)
          : 0;
    found.set(r.deploymentId, {
      revision: r.revision,
      version: versionOf(r.deploymentId, r.revision),
      baseRevision: r.baseRevision,
      baseVersion: versionOf(r.deploymentId, r.baseRevision),
      state: r.state,
      step: r.state === 'promoted' ? steps.length + 1 : Math.min(r.step + 1, steps.length),
      steps: [...steps, 1],
      share,
      ...judging,
      stepStartedAt: iso(r.stepStartedAt),
      figures: r.figures
        ? {
            canary: r.figures.canary,
            base: r.figures.base,
            judgedAt: new Date(r.figures.judgedAt).toISOString(),
          }
        : null,
      reason: r.reason,
      createdAt: r.createdAt.toISOString(),
      finishedAt: iso(r.finishedAt),
    });
  }
  return found;
}

interface Side {
  calls: number;
  errors: number;
  errorRate: number | null;
  p95Ms: number | null;
}

export interface RolloutView {
  revision: number;
  version: number | null;
  baseRevision: number;
  baseVersion: number | null;
  state: 'canary' | 'promoted' | 'rolled_back' | 'cancelled' | 'superseded';
  step: number;
  steps: number[];
  share: number;
  windowSeconds: number;
  maxErrorRateIncrease: number;
  maxP95LatencyRatio: number | null;
  p95LatencySlackMs: number;
  minCalls: number;
  stepStartedAt: string | null;
  figures: { canary: Side; base: Side; judgedAt: string } | null;
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}
