import { z } from 'zod';

// What the autoscaler hears and says: per-replica load from the agents, and the edge's wake request for a
// deployment that has no ready replica while calls for it are held. The control plane decides; agents and
// the edge only report and ask.

/** Load of one replica at `sentAt`: calls being computed and calls waiting in its batcher's queue. */
export const ReplicaLoad = z.strictObject({
  workloadId: z.string().min(1).max(128),
  inFlight: z.number().int().min(0).max(1_000_000),
  queued: z.number().int().min(0).max(1_000_000),
});
export type ReplicaLoad = z.infer<typeof ReplicaLoad>;

/**
 * `POST /agent/v1/load` (authenticated as the agent, as its heartbeat is) → 204. Sent about once a second
 * while any replica is busy or its load changed since the last report, and not at all while every replica
 * stays idle, so the autoscaler reacts within seconds rather than one heartbeat.
 */
export const AgentLoadReport = z.strictObject({
  /** Epoch milliseconds on the agent's clock when the figures were read. */
  sentAt: z.number().int().nonnegative(),
  replicas: z.array(ReplicaLoad).max(4_096),
});
export type AgentLoadReport = z.infer<typeof AgentLoadReport>;

/**
 * `POST /internal/v1/deployments/{deploymentId}/wake?waitMs=N` (the edge's service token). Idempotent: every
 * isolate holding calls may send it; the control plane starts at most one replica for all of them (and
 * counts `held` as a load signal). With `waitMs` (≤ 30,000) it answers as soon as a replica is ready in the
 * routing snapshot, or when the wait ends, so the edge learns readiness without waiting for its next poll.
 */
export const WakeRequest = z.strictObject({
  /** Calls this isolate holds for the deployment now. */
  held: z.number().int().min(0).max(1_000_000),
});
export type WakeRequest = z.infer<typeof WakeRequest>;

export const WakeAnswer = z.strictObject({
  /** `ready`: a replica serves (pull routing at least `routingVersion`); `starting`: not yet; `failed`: it cannot start now. */
  state: z.enum(['ready', 'starting', 'failed']),
  /**
   * The routing snapshot version that first shows a ready replica (`ready`), or the deployment's start
   * failure (`failed`): the edge pulls routing to at least it.
   */
  routingVersion: z.number().int().nonnegative().optional(),
  /** Why it cannot start (routing's `startFailure.reason`), for the 503 the edge answers; set when `failed`. */
  reason: z.string().optional(),
});
export type WakeAnswer = z.infer<typeof WakeAnswer>;

/** The longest a wake request may wait for readiness. */
export const WAKE_MAX_WAIT_MS = 30_000;
