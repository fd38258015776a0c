import { type FeatureDriftSketch, type FeatureSketch, mergeSketch } from '@meridian/protocol';
import { and, eq, inArray } from 'drizzle-orm';
import { deployments, driftScores, driftSketches } from '../../db/schema.js';
import type { Tx } from '../billing/ledger.js';
import { compareSketches } from './compare.js';

export interface DriftSettings {
  /** Samples of a feature the reference takes (the first reports after the deployment starts serving). */
  referenceSamples: number;
  /** Seconds per compared window. */
  windowSeconds: number;
}

export const DEFAULT_DRIFT: DriftSettings = { referenceSamples: 1_000, windowSeconds: 3_600 };

/** The reference row of a feature: window 0. */
const REFERENCE = 0;

/**
 * Adds an agent's sketches: into the feature's reference until it holds `referenceSamples` (whole reports:
 * a report is never split, so a reference may hold a little more), then into the window of `nowMs`, whose
 * score against the reference is computed again and stored. Deployments that do not exist are ignored.
 */
export async function recordDriftSketches(
  tx: Tx,
  sketches: FeatureDriftSketch[],
  settings: DriftSettings,
  nowMs: number,
): Promise<void> {
  const ids = [...new Set(sketches.map((s) => s.deploymentId))];
  if (ids.length === 0) return;
  const owners = await tx
    .select({ id: deployments.id, orgId: deployments.orgId })
    .from(deployments)
    .where(inArray(deployments.id, ids));
  const orgOf = new Map(owners.map((d) => [d.id, d.orgId]));
  const window = Math.floor(nowMs / 1000 / settings.windowSeconds) * settings.windowSeconds;
  for (const s of sketches) {
    const orgId = orgOf.get(s.deploymentId);
    if (!orgId) continue;
    const reference = await readSketch(tx, s.deploymentId, s.feature, REFERENCE);
    if (!reference?.frozen) {
      const merged = reference ? mergeSketch(reference.sketch, s.sketch) : s.sketch;
      const frozen = merged.count >= settings.referenceSamples;
      await writeSketch(tx, { ...s, orgId }, REFERENCE, merged, frozen);
      continue;
    }
    const current = await readSketch(tx, s.deploymentId, s.feature, window);
    const merged = current ? mergeSketch(current.sketch, s.sketch) : s.sketch;
    await writeSketch(tx, { ...s, orgId }, window, merged, false);
    const verdict = compareSketches(reference.sketch, merged);
    const row = {
      deploymentId: s.deploymentId,
      feature: s.feature,
      window,
      orgId,
      method: verdict.method,
      score: verdict.score,
      pValue: verdict.pValue,
      drifted: verdict.drifted,
      count: merged.count,
      at: new Date(nowMs),
    };
    await tx
      .insert(driftScores)
      .values(row)
      .onConflictDoUpdate({
        target: [driftScores.deploymentId, driftScores.feature, driftScores.window],
        set: row,
      });
  }
}

async function readSketch(tx: Tx, deploymentId: string, feature: string, window: number) {
  const [row] = await tx
    .select({ sketch: driftSketches.sketch, frozen: driftSketches.frozen })
    .from(driftSketches)
    .where(
      and(
        eq(driftSketches.deploymentId, deploymentId),
        eq(driftSketches.feature, feature),
        eq(driftSketches.window, window),
      ),
    );
  return row ? { sketch: row.sketch as FeatureSketch, frozen: row.frozen } : undefined;
}

async function writeSketch(
  tx: Tx,
  s: FeatureDriftSketch & { orgId: string },
  window: number,
  sketch: FeatureSketch,
  frozen: boolean,
) {
  const row = {
    deploymentId: s.deploymentId,
    feature: s.feature,
    window,
    orgId: s.orgId,
    versionId: s.versionId ?? '',
    sketch,
    count: sketch.count,
    frozen,
  };
  await tx
    .insert(driftSketches)
    .values(row)
    .onConflictDoUpdate({
      target: [driftSketches.deploymentId, driftSketches.feature, driftSketches.window],
      set: { sketch, count: sketch.count, frozen },
    });
}
