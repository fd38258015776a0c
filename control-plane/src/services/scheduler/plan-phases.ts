import type { WorkloadView } from './cluster-view.js';
import type { PlanContext, WorkloadFields } from './plan-context.js';

// Phases 1–3 of a tick: agents lost, the phases agents report (with their times), retired replicas removed.

export function loseSilentAgents(ctx: PlanContext): void {
  const { view, plan, now, options } = ctx;
  for (const agent of view.agents.values()) {
    const silentSince = Math.max(agent.lastHeartbeatAt, options.leaderSince ?? 0);
    if (agent.status === 'lost' || now - silentSince <= options.heartbeatTimeoutMs) continue;
    agent.status = 'lost';
    plan.lostAgents.push(agent.id);
    plan.notify.add(agent.id);
    for (const w of ctx.live.filter((x) => x.agentId === agent.id)) {
      ctx.event(
        w,
        'replica_lost',
        `replica ${w.id} was lost with agent ${agent.id} (no heartbeat for ${Math.round((now - agent.lastHeartbeatAt) / 1000)} s); placing it again`,
      );
      ctx.remove(w);
    }
  }
}

const ms = (from: number | null, to: number) => (from === null ? '' : ` ${Math.max(0, to - from)} ms`);

/** The time each phase was first reported, and an event that says how long it took to get there. */
function phaseTimes(w: WorkloadView, at: number): { fields: WorkloadFields; says?: string } {
  switch (w.report?.phase) {
    case 'pulling':
      return w.pullingAt === null
        ? { fields: { pullingAt: at }, says: `pulling, ${ms(w.placedAt, at).trim()} after it was scheduled` }
        : { fields: {} };
    case 'loading':
      return w.loadingAt === null
        ? {
            fields: { loadingAt: at },
            says:
              w.pullingAt === null
                ? 'loading (the model was in the agent’s cache)'
                : `loading: pulled in${ms(w.pullingAt, at)}`,
          }
        : { fields: {} };
    case 'ready': {
      if (w.readyAt !== null) return { fields: {} };
      const loaded = w.loadingAt === null ? '' : `, loaded in${ms(w.loadingAt, at)}`;
      return { fields: { readyAt: at }, says: `ready${loaded};${ms(w.placedAt, at)} after it was scheduled` };
    }
    case 'failed':
      return w.failedAt === null ? { fields: { failedAt: at } } : { fields: {} };
    default:
      return { fields: {} };
  }
}

/** What agents reported becomes each workload's phase, with the time the heartbeat brought it. */
export function followReportedPhases(ctx: PlanContext): void {
  for (const w of ctx.live) {
    if (!w.agentId || !w.report) continue;
    const { phase, reason, reportedAt } = w.report;
    // A report read by this tick is no later than it (a clock set by hand in tests may say otherwise).
    const times = phaseTimes(w, Math.min(reportedAt, ctx.now));
    const changed = phase !== w.phase || reason !== w.reason;
    if (changed || Object.keys(times.fields).length > 0)
      ctx.update(w, { ...(changed ? { phase, reason } : {}), ...times.fields });
    const where = `replica ${w.id} (revision ${w.revision}) on agent ${w.agentId}`;
    if (times.says) ctx.event(w, `replica_${phase}`, `${where} is ${times.says}`);
    else if (changed && phase === 'failed')
      ctx.event(w, 'replica_failed', `${where} failed${reason ? `: ${reason}` : ''}`);
    const firstCall = ctx.inputs.firstCalls?.get(w.id);
    if (phase === 'ready' && w.firstCallAt === null && firstCall !== undefined) {
      ctx.update(w, { firstCallAt: firstCall });
      ctx.event(
        w,
        'replica_first_call',
        `${where} served its first call${ms(w.readyAt, firstCall)} after ready`,
      );
    }
  }
}

/** Retired replicas whose grace is over leave their agents. */
export function removeRetired(ctx: PlanContext): void {
  for (const w of ctx.live.filter((x) => x.retireAt !== null && x.retireAt <= ctx.now)) ctx.remove(w);
}
