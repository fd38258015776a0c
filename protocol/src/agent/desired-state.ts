import { z } from 'zod';
import { WorkloadId } from './heartbeat.js';
import { DataPlaneKey } from './prediction-usage.js';
import { GpuType } from './usage.js';

/** The model file a workload serves; the agent downloads it from a signed URL and checks its sha256. */
export const ModelArtifact = z.object({
  versionId: z.string(),
  format: z.enum(['onnx', 'sklearn', 'pytorch', 'tensorflow', 'keras']),
  runtime: z.enum(['onnx', 'container']),
  downloadUrl: z.string().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: z.number().int().nonnegative(),
});
export type ModelArtifact = z.infer<typeof ModelArtifact>;

const placement = {
  workloadId: WorkloadId,
  gpuType: GpuType,
  gpuCount: z.number().int().nonnegative(),
  /** The organisation it runs for: containers of one org share a network of their own, and nothing else. */
  orgId: z.string().optional(),
  /**
   * What its owner calls it (`ocr-cls v3`, a notebook's name), for the log lines the owner reads. A label
   * only: a change to it never restarts the workload.
   */
  displayName: z.string().max(300).optional(),
};

/** One replica of a deployment the agent must serve. */
export const DesiredModelWorkload = z.object({
  ...placement,
  kind: z.literal('model'),
  deploymentId: z.string(),
  model: ModelArtifact,
  /** Image of a custom model server, for formats the onnx runtime cannot load. */
  image: z.string().optional(),
  /** Dynamic batching settings chosen for the deployment; the agent's defaults apply when absent. */
  batching: z
    .object({
      maxBatchSize: z.number().int().min(1).max(1024),
      maxQueueDelayMs: z.number().min(0).max(1000),
    })
    .optional(),
});
export type DesiredModelWorkload = z.infer<typeof DesiredModelWorkload>;

/** A notebook the agent must run. */
export const DesiredNotebookWorkload = z.object({
  ...placement,
  kind: z.literal('notebook'),
  notebookId: z.string(),
  image: z.string(),
  idleTimeoutSeconds: z.number().int().positive(),
  /** The token the notebook server requires on every request (Jupyter's `JUPYTER_TOKEN`). */
  token: z.string().min(16).max(256),
  /** URL path prefix the server answers under (`/notebooks/<id>/`), so the edge can proxy it unchanged. */
  basePath: z.string().regex(/^\/[A-Za-z0-9_/.-]*\/$/),
});
export type DesiredNotebookWorkload = z.infer<typeof DesiredNotebookWorkload>;

export const DesiredWorkload = z.discriminatedUnion('kind', [DesiredModelWorkload, DesiredNotebookWorkload]);
export type DesiredWorkload = z.infer<typeof DesiredWorkload>;

/** Everything one agent should run; `version` changes whenever any of it does. */
export const DesiredState = z.object({
  version: z.number().int().nonnegative(),
  workloads: z.array(DesiredWorkload),
  /**
   * Container images the agent may run: the platform's, and each org's allow-list (orgs of the workloads
   * listed). An image on neither is refused, with the reason in the workload's status.
   */
  images: z
    .object({ platform: z.array(z.string()), byOrg: z.record(z.string(), z.array(z.string())) })
    .optional(),
  /** The agent's current data-plane key; a rotation changes it (and the version). */
  dataPlaneKey: DataPlaneKey.optional(),
});
export type DesiredState = z.infer<typeof DesiredState>;

/** A long poll that ended without news: the agent keeps what it has and polls again. */
export const DesiredStateUnchanged = z.object({
  unchanged: z.literal(true),
  version: z.number().int().nonnegative(),
});
export type DesiredStateUnchanged = z.infer<typeof DesiredStateUnchanged>;

/** `GET /agent/v1/desired-state`: the full state, or that nothing changed within the wait. */
export const DesiredStatePoll = z.union([DesiredStateUnchanged, DesiredState]);
export type DesiredStatePoll = z.infer<typeof DesiredStatePoll>;
