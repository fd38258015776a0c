import { z } from 'zod';

// The routing snapshot: what the edge needs to send a prediction to a ready replica. The control plane's
// scheduler produces it whenever it changes; the edge pulls it (`GET /internal/v1/routing?since=<version>`)
// or reads it from Workers KV.

/** The longest start-failure reason routing carries (`RoutedDeployment.startFailure`). */
export const START_FAILURE_REASON_MAX = 300;

/** One ready replica: where the edge sends a signed OIP request. */
export const RoutedReplica = z.object({
  workloadId: z.string(),
  agentId: z.string(),
  /** The agent's data-plane base URL; the model is served there under the deployment id. */
  url: z.string(),
  /** The generation of the agent's data-plane key (protocol `agentKeyDerivationText`); 1 until rotated. */
  keyGeneration: z.number().int().positive().default(1),
});
export type RoutedReplica = z.infer<typeof RoutedReplica>;

/** One model version of a deployment, with its share of the traffic. */
export const RoutedVersion = z.object({
  versionId: z.string(),
  /** The version's number within its model (1, 2, …), for `/v2/models/{name}/versions/{v}`. */
  version: z.number().int().positive(),
  /** Relative share of unpinned traffic, 0–100; versions of one deployment sum to 100 unless none is ready. */
  weight: z.number().int().min(0).max(100),
  replicas: z.array(RoutedReplica),
});
export type RoutedVersion = z.infer<typeof RoutedVersion>;

export const RoutedDeployment = z.object({
  deploymentId: z.string(),
  orgId: z.string(),
  /** Unique within the org: the `{name}` of the OIP routes. */
  name: z.string(),
  /** Same input, same output: the edge may answer from its response cache. */
  deterministic: z.boolean(),
  /** The versions with ready replicas; with none ready (scaled to zero, starting), the one it serves, with none. */
  versions: z.array(RoutedVersion),
  /**
   * How the edge holds calls while no replica is ready (scaled to zero, or starting): at most `maxCount` calls
   * and `maxBytes` of their bodies, each for at most `maxWaitMs`, then 503 with Retry-After. Absent: the
   * edge's defaults (30 s, and its own count and byte bounds).
   */
  hold: z
    .object({
      maxWaitMs: z.number().int().min(0).max(300_000),
      maxCount: z.number().int().min(0).max(100_000).optional(),
      maxBytes: z.number().int().min(0).optional(),
    })
    .optional(),
  /**
   * Set only while no replica serves and the deployment's last start failed (a replica failed to load or
   * start, or no host fits one), until a start succeeds or a new revision replaces it: the edge answers its
   * calls and readiness probes with this reason at once rather than holding them. Routing is per org, so
   * only the deployment's own org sees it.
   */
  startFailure: z
    .object({
      /**
       * In words the deployment's owner can act on: no internal ids, hosts or paths; at most
       * START_FAILURE_REASON_MAX characters (not enforced here: a longer one must not cost all routing).
       */
      reason: z.string(),
      /** Epoch milliseconds when the control plane tries again by itself; absent when nothing is scheduled. */
      retryAt: z.number().int().nonnegative().optional(),
    })
    .optional(),
});
export type RoutedDeployment = z.infer<typeof RoutedDeployment>;
export type StartFailure = NonNullable<RoutedDeployment['startFailure']>;

/** Every deployment and where it is served; `version` rises with every change. */
export const RoutingSnapshot = z.object({
  version: z.number().int().nonnegative(),
  generatedAt: z.iso.datetime({ offset: true }),
  deployments: z.array(RoutedDeployment),
});
export type RoutingSnapshot = z.infer<typeof RoutingSnapshot>;

/** The answer to a pull whose `since` is the current version. */
export const RoutingUnchanged = z.object({ unchanged: z.literal(true), version: z.number().int() });
export type RoutingUnchanged = z.infer<typeof RoutingUnchanged>;
