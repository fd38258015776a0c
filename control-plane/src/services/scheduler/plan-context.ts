import type { GpuType } from '@meridian/protocol';
import type { CanaryRouting } from '../rollouts/routing.js';
import type { ScaleDecision } from './autoscaler.js';
import type { ClusterView, DeploymentView, NotebookView, WorkloadView } from './cluster-view.js';
import type { NewWorkload } from './workload-specs.js';

// One tick's plan and what its phases share: the cluster as read, the workloads alive so far, and helpers
// that record each decision in the plan as they apply it to the view.

export interface PlanOptions {
  /** An agent silent this long is lost: its work is placed elsewhere. */
  heartbeatTimeoutMs: number;
  /** How long a replaced replica keeps serving after leaving the routing snapshot (edge refresh, in-flight calls). */
  retireAfterMs: number;
  /** Added to a notebook's idle timeout: Jupyter records activity coarsely and the agent reports it every few seconds. */
  idleSlackMs: number;
  /**
   * When this instance became the scheduler. Silence is counted from then at the earliest: after a
   * control-plane outage every agent looks silent, and declaring them all lost would move every replica.
   */
  leaderSince?: number;
}

/** What the tick learnt besides the database: the autoscaler's decisions and replicas' first calls. */
export interface PlanInputs {
  scale?: ReadonlyMap<string, ScaleDecision>;
  /** Replicas whose first call the agents reported, and when. */
  firstCalls?: ReadonlyMap<string, number>;
  /** Running canaries by deployment (../rollouts/advance.ts): their replicas are kept beside the current ones. */
  canaries?: ReadonlyMap<string, CanaryRouting>;
}

export type WorkloadFields = Partial<
  Pick<
    WorkloadView,
    | 'agentId'
    | 'phase'
    | 'reason'
    | 'pendingReason'
    | 'retireAt'
    | 'pullingAt'
    | 'loadingAt'
    | 'readyAt'
    | 'firstCallAt'
    | 'failedAt'
    | 'placedAt'
  >
>;

/** Every write one tick decided on; applied by ./apply-plan.ts. */
export interface Plan {
  lostAgents: string[];
  createWorkloads: NewWorkload[];
  deleteWorkloads: string[];
  updateWorkloads: Map<string, WorkloadFields>;
  deploymentStatus: {
    id: string;
    status: DeploymentView['status'];
    reason: string | null;
    startProblem: DeploymentView['startProblem'];
    /** The revision it was planned for: written only while the deployment is still at it (a PATCH rolls on). */
    revision: number;
  }[];
  /** New autoscaler targets, written only if the target is still `from` (a wake may have moved it). */
  scaleTargets: { id: string; from: number; to: number }[];
  events: { deploymentId: string; orgId: string; type: string; message: string }[];
  notebookUpdates: Map<
    string,
    Partial<Pick<NotebookView, 'status' | 'statusReason' | 'endpoint' | 'lastActivityAt' | 'desired'>>
  >;
  sessionStarts: {
    id: string;
    notebookId: string;
    orgId: string;
    gpuType: GpuType;
    gpuCount: number;
    agentId: string;
    startedAt: number;
  }[];
  sessionEnds: { id: string; endedAt: number; seconds: number; reason: string }[];
  /** Agents whose desired state changed: their version moves on and their long polls wake. */
  notify: Set<string>;
}

export interface PlanContext {
  view: ClusterView;
  options: PlanOptions;
  inputs: PlanInputs;
  plan: Plan;
  now: number;
  /** Workloads that exist after the decisions so far. */
  live: WorkloadView[];
  deploymentOf: Map<string, DeploymentView>;
  update(w: WorkloadView, fields: WorkloadFields): void;
  remove(w: WorkloadView): void;
  /** An event of the workload's deployment, if it has one. */
  event(w: WorkloadView | DeploymentView, type: string, message: string): void;
}

export function newPlanContext(view: ClusterView, options: PlanOptions, inputs: PlanInputs): PlanContext {
  const plan: Plan = {
    lostAgents: [],
    createWorkloads: [],
    deleteWorkloads: [],
    updateWorkloads: new Map(),
    deploymentStatus: [],
    scaleTargets: [],
    events: [],
    notebookUpdates: new Map(),
    sessionStarts: [],
    sessionEnds: [],
    notify: new Set(),
  };
  const deploymentOf = new Map(view.deployments.map((d) => [d.id, d]));
  const ctx: PlanContext = {
    view,
    options,
    inputs,
    plan,
    now: view.now,
    live: [...view.workloads],
    deploymentOf,
    update(w, fields) {
      Object.assign(w, fields);
      plan.updateWorkloads.set(w.id, { ...plan.updateWorkloads.get(w.id), ...fields });
    },
    remove(w) {
      plan.deleteWorkloads.push(w.id);
      plan.updateWorkloads.delete(w.id);
      if (w.agentId) plan.notify.add(w.agentId);
      ctx.live = ctx.live.filter((x) => x.id !== w.id);
    },
    event(of, type, message) {
      const d = 'kind' in of ? (of.deploymentId ? deploymentOf.get(of.deploymentId) : undefined) : of;
      if (d) plan.events.push({ deploymentId: d.id, orgId: d.orgId, type, message });
    },
  };
  return ctx;
}
