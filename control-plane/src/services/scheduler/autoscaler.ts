// How many replicas a deployment should have, from its load. Knative's KPA is the model: demand (calls in
// flight and queued at the replicas) is averaged per second over a stable window (60 s) and
// a panic window (6 s); when the panic average needs at least twice the ready capacity, the autoscaler
// panics: it follows the short window and never scales down until a stable window passes without panic.
// Delays then hold a change back until it has been wanted for long enough. Pure: the caller keeps the memory.

export interface ScalePolicy {
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency: number;
  scaleUpDelaySeconds: number;
  scaleDownDelaySeconds: number;
  /** Null: never below one replica. */
  scaleToZeroAfterSeconds: number | null;
}

export interface ScaleWindows {
  stableMs: number;
  panicMs: number;
  /** Panic when the panic window's demand needs this many times the ready replicas. */
  panicThreshold: number;
}

export const DEFAULT_WINDOWS: ScaleWindows = { stableMs: 60_000, panicMs: 6_000, panicThreshold: 2 };

/** What the deployment looks like now. */
export interface ScaleObservation {
  now: number;
  /** The replicas wanted until now (the deployment's target). */
  current: number;
  ready: number;
  inFlight: number;
  queued: number;
  held: number;
  /** The last time any call was seen (in flight, queued or held), if ever. */
  lastCallAt: number | null;
}

/** What the autoscaler remembers of one deployment between ticks. */
export interface ScaleMemory {
  /** The highest demand seen in each second, oldest first, covering at most the stable window. */
  seconds: { second: number; demand: number }[];
  /** The last time the panic condition held; null when not panicking. */
  panickedAt: number | null;
  /** Since when more (or fewer) replicas have been wanted, and the least (or most) wanted since then. */
  up: { since: number; least: number } | null;
  down: { since: number; most: number } | null;
  /**
   * A moment taken as a call: when this memory began (a restart of the control plane), or when the target
   * left zero by another hand (a wake answered by another instance, a PATCH).
   */
  activeAt: number;
  /** The target this memory last decided. */
  decided: number | null;
}

export interface ScaleDecision {
  replicas: number;
  /** Why, with the numbers, when `replicas` differs from the current target. */
  message?: string;
}

export const newScaleMemory = (now: number): ScaleMemory => ({
  seconds: [],
  panickedAt: null,
  up: null,
  down: null,
  activeAt: now,
  decided: null,
});

/** Decides the replica count for `obs`, updating `memory` in place. */
export function decideScale(
  policy: ScalePolicy,
  obs: ScaleObservation,
  memory: ScaleMemory,
  windows: ScaleWindows = DEFAULT_WINDOWS,
): ScaleDecision {
  const { now, current } = obs;
  if (memory.decided === 0 && current > 0) memory.activeAt = now;
  // Calls held at the edge are not demand: the wake route starts the first replica for them, and once one is
  // ready they reach it and show there as in flight or queued. They do count as calls against idleness.
  const demand = obs.inFlight + obs.queued;
  record(memory, now, demand, windows.stableMs);
  const stable = average(memory, now, windows.stableMs);
  const panicAvg = average(memory, now, windows.panicMs);
  const perReplica = policy.targetConcurrency;
  const capacity = Math.max(1, obs.ready) * perReplica;
  if (current > 0 && panicAvg >= windows.panicThreshold * capacity) memory.panickedAt = now;
  else if (memory.panickedAt !== null && now - memory.panickedAt >= windows.stableMs)
    memory.panickedAt = null;
  const panicking = memory.panickedAt !== null;

  const idleFor = now - Math.max(obs.lastCallAt ?? memory.activeAt, memory.activeAt);
  const toZero =
    policy.minReplicas === 0 &&
    policy.scaleToZeroAfterSeconds !== null &&
    demand + obs.held === 0 &&
    idleFor >= policy.scaleToZeroAfterSeconds * 1000;
  const stayAtZero = policy.minReplicas === 0 && current === 0 && demand === 0;
  const clamp = (n: number) => Math.min(policy.maxReplicas, Math.max(1, policy.minReplicas, n));
  let want = toZero || stayAtZero ? 0 : clamp(Math.ceil(stable / perReplica));
  if (panicking && !toZero) want = Math.max(want, current, clamp(Math.ceil(panicAvg / perReplica)));
  // A cold start: while no replica is ready more would not serve sooner; once one serves, its load sizes
  // the deployment.
  if (obs.ready === 0) want = Math.min(want, Math.max(current, 1));

  const next = delayed(policy, memory, now, current, want, panicking || current === 0 || toZero);
  memory.decided = next;
  if (next === current) return { replicas: current };
  const numbers =
    `${obs.inFlight} in flight, ${obs.queued} queued, ${obs.held} held ` +
    `(${round(panicAvg)} over ${windows.panicMs / 1000} s, ${round(stable)} over ${windows.stableMs / 1000} s), ` +
    `target ${perReplica} per replica`;
  const why = toZero
    ? `no calls for ${Math.round(idleFor / 1000)} s (scale to zero after ${policy.scaleToZeroAfterSeconds} s)`
    : current === 0
      ? `from zero: ${numbers}`
      : `${numbers}${panicking ? '; panic mode' : ''}`;
  return { replicas: next, message: `${current} → ${next} replica${next === 1 ? '' : 's'}: ${why}` };
}

/**
 * Holds a change back until it has been wanted for the delay: up to the least wanted over the up-delay, down
 * to the most wanted over the down-delay. `immediate` skips both (panic, waking from zero, going to zero).
 */
function delayed(
  policy: ScalePolicy,
  memory: ScaleMemory,
  now: number,
  current: number,
  want: number,
  immediate: boolean,
): number {
  let next = current;
  if (want > current) {
    memory.down = null;
    const least = Math.min(memory.up?.least ?? want, want);
    memory.up = { since: memory.up?.since ?? now, least };
    if (immediate || now - memory.up.since >= policy.scaleUpDelaySeconds * 1000)
      next = immediate ? want : least;
  } else if (want < current) {
    memory.up = null;
    const most = Math.max(memory.down?.most ?? want, want);
    memory.down = { since: memory.down?.since ?? now, most };
    if (immediate || now - memory.down.since >= policy.scaleDownDelaySeconds * 1000)
      next = immediate ? want : most;
  }
  // A change made (or none wanted) starts the next delay afresh.
  if (next !== current || want === current) {
    memory.up = null;
    memory.down = null;
  }
  return next;
}

function record(memory: ScaleMemory, now: number, demand: number, keepMs: number): void {
  const second = Math.floor(now / 1000);
  const last = memory.seconds.at(-1);
  if (last?.second === second) last.demand = Math.max(last.demand, demand);
  else memory.seconds.push({ second, demand });
  // Keep the last second before the window too: it carries into the window's first seconds.
  const windowStart = second - Math.ceil(keepMs / 1000) + 1;
  while ((memory.seconds[1]?.second ?? Number.POSITIVE_INFINITY) <= windowStart) memory.seconds.shift();
}

/**
 * Mean demand per second over the window ending now. A second with no observation carries the one before it
 * (demand is a level, observed at every tick); seconds before the first observation do not count.
 */
function average(memory: ScaleMemory, now: number, windowMs: number): number {
  const last = Math.floor(now / 1000);
  const first = last - Math.ceil(windowMs / 1000) + 1;
  let sum = 0;
  let count = 0;
  let carried: number | undefined;
  let at = first;
  for (const s of memory.seconds) {
    if (s.second < first) {
      carried = s.demand;
      continue;
    }
    if (carried !== undefined) {
      sum += carried * (s.second - at);
      count += s.second - at;
    }
    sum += s.demand;
    count += 1;
    carried = s.demand;
    at = s.second + 1;
  }
  if (carried !== undefined && at <= last) {
    sum += carried * (last - at + 1);
    count += last - at + 1;
  }
  return count === 0 ? 0 : sum / count;
}

const round = (n: number) => Math.round(n * 10) / 10;
