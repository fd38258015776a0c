import type { RoutedDeployment, RoutedReplica, RoutedVersion } from '@meridian/protocol';

// Pure choices over a routing snapshot: which version serves a request, and which replica of it. Randomness
// and load come in as arguments, so the same inputs give the same answer in tests.

/** A number in [0, 1); Math.random by default. */
export type RandomSource = () => number;

/** How a version is picked: pinned by the path, sticky per caller, or at random by weight. */
export interface VersionChoice {
  /** `{v}` of `/versions/{v}`: the version number or the version id. */
  pinned?: string;
  /** Sticky routing: the same key sees the same version while the weights stay (e.g. the caller's id). */
  stickyKey?: string;
  random?: RandomSource;
}

const VERSION_NUMBER = /^[1-9][0-9]{0,9}$/;

/** The version `/versions/{v}` names, by id first, then by number; undefined when the deployment has none. */
export function findPinnedVersion(deployment: RoutedDeployment, pinned: string): RoutedVersion | undefined {
  const byId = deployment.versions.find((v) => v.versionId === pinned);
  if (byId) return byId;
  if (!VERSION_NUMBER.test(pinned)) return undefined;
  const n = Number(pinned);
  return deployment.versions.find((v) => v.version === n);
}

/** 1/φ: steps of it around the unit circle leave no gap wider than about twice the average (three-gap theorem). */
const GOLDEN_STEP = 0.6180339887498949;
const spreads = new Map<string, number>();

/**
 * The next point of a per-key golden-ratio sequence in [0, 1), from a random start: over any run of n calls,
 * the count falling in a range of width w stays within about three calls of w·n, where Math.random strays by
 * about √(w·n). A canary at 10% then takes 10% of an isolate's calls, not 10% give or take a chance streak:
 * what keeps the failures callers see from a failing canary near its share.
 */
export function evenSpread(key: string): number {
  const next = ((spreads.get(key) ?? Math.random()) + GOLDEN_STEP) % 1;
  spreads.set(key, next);
  return next;
}

/**
 * The version that serves a request. A pinned request gets exactly the version it names (or undefined).
 * Otherwise the split is by weight over the versions that have replicas (evenly spread calls, not random
 * draws, unless `random` is given); a version at weight 0 takes no unpinned traffic. Undefined when no
 * weighted version has a replica.
 */
export function chooseVersion(
  deployment: RoutedDeployment,
  choice: VersionChoice = {},
): RoutedVersion | undefined {
  if (choice.pinned !== undefined) return findPinnedVersion(deployment, choice.pinned);
  const eligible = deployment.versions.filter((v) => v.weight > 0 && v.replicas.length > 0);
  const total = eligible.reduce((sum, v) => sum + v.weight, 0);
  if (total === 0) return undefined;
  const unit =
    choice.stickyKey === undefined
      ? (choice.random ?? (() => evenSpread(deployment.deploymentId)))()
      : stickyFraction(`${choice.stickyKey}|${deployment.deploymentId}`);
  let point = unit * total;
  for (const v of eligible) {
    if (point < v.weight) return v;
    point -= v.weight;
  }
  // Only reached through float rounding at the very top of the range.
  return eligible.at(-1);
}

const encoder = new TextEncoder();

/** FNV-1a (32 bit) of the UTF-8 bytes, then murmur3's finaliser so similar keys spread over the range. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A deterministic number in [0, 1) for a key. */
export function stickyFraction(key: string): number {
  return hashKey(key) / 2 ** 32;
}

/**
 * Power of two choices: two distinct replicas at random among those not yet tried, the one with fewer
 * outstanding requests wins (the first drawn on a tie). Undefined when every replica has been tried.
 */
export function chooseReplica(
  replicas: readonly RoutedReplica[],
  outstanding: (workloadId: string) => number,
  tried: ReadonlySet<string> = new Set(),
  random: RandomSource = Math.random,
): RoutedReplica | undefined {
  const candidates = tried.size === 0 ? replicas : replicas.filter((r) => !tried.has(r.workloadId));
  if (candidates.length <= 1) return candidates[0];
  const i = Math.floor(random() * candidates.length) % candidates.length;
  // The second draw skips the first, so the two are always distinct.
  let j = Math.floor(random() * (candidates.length - 1)) % (candidates.length - 1);
  if (j >= i) j += 1;
  const a = candidates[i];
  const b = candidates[j];
  if (!a || !b) return a ?? b;
  return outstanding(b.workloadId) < outstanding(a.workloadId) ? b : a;
}
