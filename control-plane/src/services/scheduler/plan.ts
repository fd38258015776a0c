import type { ClusterView } from './cluster-view.js';
import { newPlanContext, type Plan, type PlanInputs, type PlanOptions } from './plan-context.js';
import { planDeployments, planStatuses } from './plan-deployments.js';
import { planNotebooks } from './plan-notebooks.js';
import { followReportedPhases, loseSilentAgents, removeRetired } from './plan-phases.js';
import { placePending } from './plan-placement.js';

export type { Plan, PlanOptions } from './plan-context.js';

/**
 * Decides one tick's writes from the cluster as read at its start, phase by phase over one plan. Pure apart
 * from minting ids: the autoscaler's decisions and first calls come in `inputs`.
 */
export function planTick(view: ClusterView, options: PlanOptions, inputs: PlanInputs = {}): Plan {
  const ctx = newPlanContext(view, options, inputs);
  loseSilentAgents(ctx);
  followReportedPhases(ctx);
  removeRetired(ctx);
  planDeployments(ctx);
  planNotebooks(ctx);
  placePending(ctx);
  planStatuses(ctx);
  return ctx.plan;
}
