/** What the scheduler needs of a running canary: which revisions share the calls, and how. */
export interface CanaryRouting {
  revision: number;
  baseRevision: number;
  /** The canary's share of unpinned calls now. */
  share: number;
}

interface Weighted {
  versionId: string;
  weight: number;
  replicas: readonly unknown[];
}

/**
 * Weights (percent, summing to 100) while a canary runs: its share to the canary (0 until its first step
 * starts) and the rest to the revision it is judged against, once both have a ready replica; any other version
 * still routed takes no unpinned calls. Until both serve, the weights stay as they were. In place.
 */
export function applyCanaryWeights(
  versions: Weighted[],
  revisions: ReadonlyMap<number, { versionId: string }>,
  canary: CanaryRouting,
): void {
  const idOf = (revision: number) => revisions.get(revision)?.versionId;
  const serving = (id: string | undefined) =>
    versions.find((v) => v.versionId === id && v.replicas.length > 0);
  const newer = serving(idOf(canary.revision));
  const older = serving(idOf(canary.baseRevision));
  if (!newer || !older) return;
  const share = canary.share === 0 ? 0 : Math.min(99, Math.max(1, Math.round(canary.share * 100)));
  for (const v of versions) v.weight = v === newer ? share : v === older ? 100 - share : 0;
}
