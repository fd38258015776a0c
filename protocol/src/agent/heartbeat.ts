import { z } from 'zod';
import { HostInventory } from './inventory.js';

export const WORKLOAD_KINDS = ['model', 'notebook'] as const;
export const WorkloadKind = z.enum(WORKLOAD_KINDS);
export type WorkloadKind = z.infer<typeof WorkloadKind>;

export const WORKLOAD_PHASES = ['pending', 'pulling', 'loading', 'ready', 'failed', 'stopped'] as const;
export const WorkloadPhase = z.enum(WORKLOAD_PHASES);
export type WorkloadPhase = z.infer<typeof WorkloadPhase>;

export const WorkloadId = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ . or -');

/** Where one workload on the agent stands. */
export const WorkloadStatus = z.strictObject({
  workloadId: WorkloadId,
  kind: WorkloadKind,
  phase: WorkloadPhase,
  /** Why it failed or stopped, in words an operator can act on. */
  reason: z.string().max(1024).optional(),
  startedAt: z.iso.datetime({ offset: true }).optional(),
  /** Where the workload answers on the host (a notebook server), when it is reachable apart from the data plane. */
  endpoint: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional(),
  /** Notebooks: the server's own record of its last activity (Jupyter's `/api/status`), coarse by design. */
  lastActivityAt: z.iso.datetime({ offset: true }).optional(),
});
export type WorkloadStatus = z.infer<typeof WorkloadStatus>;

/** `POST /agent/v1/heartbeat`: the host's inventory now and every workload it holds. */
export const AgentHeartbeat = z
  .strictObject({
    inventory: HostInventory,
    workloads: z.array(WorkloadStatus).max(1024),
    /**
     * Where the edge reaches the agent's data plane now: an agent restarted on another address (port,
     * MERIDIAN_AGENT_DATA_PLANE_URL) keeps its credential, and is routed to where it listens, not where it did.
     */
    dataPlaneUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
  })
  .refine((hb) => new Set(hb.workloads.map((w) => w.workloadId)).size === hb.workloads.length, {
    message: 'each workloadId at most once',
    path: ['workloads'],
  });
export type AgentHeartbeat = z.infer<typeof AgentHeartbeat>;

export const AGENT_STATUSES = ['online', 'lost', 'draining'] as const;
export const AgentStatus = z.enum(AGENT_STATUSES);
export type AgentStatus = z.infer<typeof AgentStatus>;

/** The control plane's answer to a heartbeat. */
export const HeartbeatResponse = z.object({
  status: AgentStatus,
  heartbeatIntervalSeconds: z.number().int().positive(),
  /** The agent's desired-state version now: a version other than the one it holds means poll again. */
  desiredStateVersion: z.number().int().nonnegative(),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;
