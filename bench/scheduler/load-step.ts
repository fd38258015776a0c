import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import { percentile } from './cold-start.js';
import { type ColdStartPlatform, startColdStartPlatform } from './cold-start-platform.js';

// A load step through the edge with two real agents, as a user's traffic would make one: a deployment of the
// PaddleOCR classifier at one replica serves 1 caller, then 32 callers at once. It reports how long after the
// step the new replicas serve (each has answered a call routed to it by the edge: its first call recorded),
// the replicas before and after, where they run, and p50/p99 latency steady at 1 caller before and steady at 32
// callers once scaled out. Bounded in calls and time. Run alone: `tsx bench/scheduler/load-step.ts`.

export interface LoadStepOptions {
  /** Callers after the step. */
  callers: number;
  maxReplicas: number;
  /** In-flight calls per replica the autoscaler aims at: callers / target replicas are wanted. */
  targetConcurrency: number;
  /** How long each steady measurement lasts. */
  steadyMs: number;
  /** How long the scale-out may take before the step is reported as not done. */
  scaleOutTimeoutMs: number;
  /** Calls in all, at most: a bounded load test. */
  maxCalls: number;
}

export const DEFAULT_LOAD_STEP: LoadStepOptions = {
  callers: 32,
  maxReplicas: 4,
  targetConcurrency: 8,
  steadyMs: 5_000,
  scaleOutTimeoutMs: 45_000,
  maxCalls: 40_000,
};

interface Window {
  callers: number;
  calls: number;
  /** Answers other than 200, by status. */
  failures: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  callsPerSecond: number;
}

export interface LoadStepReport {
  options: LoadStepOptions;
  before: { replicas: number; window: Window };
  /** From the step to every replica wanted serving (ready, routed, and its first call answered); null: not within the bound. */
  newReplicasServeMs: number | null;
  /** Per new replica: ready and first call, ms after the step. */
  newReplicas: { agentId: string; readyMs: number | null; firstCallMs: number | null }[];
  /** The autoscaler's target after the step, the most replicas seen at once, and where they ran. */
  desiredAfter: number;
  mostReplicas: number;
  after: { replicas: number; agents: number; window: Window };
  /** The calls between the step and the scale-out, with their latency. */
  during: Window;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replica {
  id: string;
  agentId: string | null;
  phase: string;
  retiring: boolean;
  readyAt: number | null;
  firstCallAt: number | null;
}

async function replicasOf(db: Client, deploymentId: string): Promise<Replica[]> {
  const rs = await db.execute({
    sql: 'select id, agent_id, phase, retire_at, ready_at, first_call_at from workloads where deployment_id = ?',
    args: [deploymentId],
  });
  return rs.rows.map((r) => ({
    id: String(r.id),
    agentId: r.agent_id === null ? null : String(r.agent_id),
    phase: String(r.phase),
    retiring: r.retire_at !== null,
    readyAt: r.ready_at === null ? null : Number(r.ready_at),
    firstCallAt: r.first_call_at === null ? null : Number(r.first_call_at),
  }));
}

async function desiredOf(db: Client, deploymentId: string): Promise<number> {
  const rs = await db.execute({
    sql: 'select desired_replicas from deployments where id = ?',
    args: [deploymentId],
  });
  return Number(rs.rows[0]?.desired_replicas);
}

/** Closed-loop callers: each sends its next call when the last one answered, until stopped or the budget ends. */
class Callers {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  /** Every answer: when it came (ms, performance clock), its latency, its status. */
  readonly answers: { at: number; ms: number; status: number }[] = [];

  constructor(
    private readonly call: () => Promise<number>,
    private readonly budget: { left: number },
  ) {}

  add(n: number): void {
    for (let i = 0; i < n; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running && this.budget.left > 0) {
      this.budget.left -= 1;
      const started = performance.now();
      let status: number;
      try {
        status = await this.call();
      } catch {
        status = 0;
      }
      const at = performance.now();
      this.answers.push({ at, ms: at - started, status });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** The answers that came within [from, to), as latency figures. */
  window(from: number, to: number, callers: number): Window {
    const got = this.answers.filter((a) => a.at >= from && a.at < to);
    const ok = got.filter((a) => a.status === 200).map((a) => a.ms);
    const failures: Record<string, number> = {};
    for (const a of got) if (a.status !== 200) failures[a.status] = (failures[a.status] ?? 0) + 1;
    return {
      callers,
      calls: got.length,
      failures,
      p50Ms: percentile(ok, 50),
      p99Ms: percentile(ok, 99),
      callsPerSecond: (1000 * got.length) / Math.max(1, to - from),
    };
  }
}

/** The load step on a running platform; adds a second agent when it has only one. */
export async function measureLoadStepOn(
  platform: ColdStartPlatform,
  options: LoadStepOptions = DEFAULT_LOAD_STEP,
): Promise<LoadStepReport> {
  const db = createClient({ url: `file:${join(platform.cpDataDir, 'control-plane.db')}` });
  let deploymentId: string | undefined;
  const budget = { left: options.maxCalls };
  const callers = new Callers(() => platform.infer('step'), budget);
  try {
    const agents = await db.execute("select id from agents where status = 'online'");
    if (agents.rows.length < 2) await platform.addAgent();
    const model = await platform.call('POST', '/v1/models', { name: 'step' });
    if (model.status !== 201) throw new Error(`model: ${model.status} ${JSON.stringify(model.json)}`);
    const version = await platform.uploadClassifier(String(model.json.id));
    const created = await platform.call('POST', '/v1/deployments', {
      name: 'step',
      model: String(model.json.id),
      version,
      gpuType: 'cpu',
      deterministic: false,
      minReplicas: 1,
      maxReplicas: options.maxReplicas,
      targetConcurrency: options.targetConcurrency,
    });
    if (created.status !== 201) throw new Error(`deploy: ${created.status} ${JSON.stringify(created.json)}`);
    const id = String(created.json.id);
    deploymentId = id;
    // Served through the edge once before measuring: routing has it, the isolate and the replica are warm.
    const until = Date.now() + 60_000;
    while ((await platform.infer('step')) !== 200) {
      if (Date.now() > until) throw new Error('step: no 200 within 60 s of deploying');
      await sleep(50);
    }

    // Steady at one caller.
    callers.add(1);
    const beforeFrom = performance.now();
    await sleep(options.steadyMs);
    const beforeTo = performance.now();
    const initial = (await replicasOf(db, id)).filter((r) => r.phase === 'ready' && !r.retiring);

    // The step: 31 more callers at once. Done when every replica the autoscaler wants serves, and it wants more.
    const step = performance.now();
    const stepWall = Date.now();
    callers.add(options.callers - 1);
    let most = initial.length;
    let servedAt: number | null = null;
    let desired = 1;
    let live: Replica[] = [];
    while (performance.now() - step < options.scaleOutTimeoutMs && budget.left > 0) {
      await sleep(100);
      live = (await replicasOf(db, id)).filter((r) => !r.retiring);
      desired = await desiredOf(db, id);
      most = Math.max(most, live.length);
      const serving = live.filter((r) => r.phase === 'ready' && r.firstCallAt !== null);
      if (desired > initial.length && serving.length >= desired && live.length === serving.length) {
        servedAt = Math.max(...serving.map((r) => r.firstCallAt ?? 0)) - stepWall;
        break;
      }
    }
    const scaledAt = performance.now();

    // Steady at 32 callers, scaled out.
    await sleep(servedAt === null ? 0 : options.steadyMs);
    const afterTo = performance.now();
    await callers.stop();
    const after = (await replicasOf(db, id)).filter((r) => r.phase === 'ready' && !r.retiring);
    const initialIds = new Set(initial.map((r) => r.id));
    return {
      options,
      before: { replicas: initial.length, window: callers.window(beforeFrom, beforeTo, 1) },
      newReplicasServeMs: servedAt,
      newReplicas: live
        .filter((r) => !initialIds.has(r.id))
        .map((r) => ({
          agentId: r.agentId ?? '',
          readyMs: r.readyAt === null ? null : r.readyAt - stepWall,
          firstCallMs: r.firstCallAt === null ? null : r.firstCallAt - stepWall,
        })),
      desiredAfter: desired,
      mostReplicas: most,
      after: {
        replicas: after.length,
        agents: new Set(after.map((r) => r.agentId)).size,
        window: callers.window(scaledAt, afterTo, options.callers),
      },
      during: callers.window(step, scaledAt, options.callers),
    };
  } finally {
    await callers.stop();
    if (deploymentId) await platform.call('DELETE', `/v1/deployments/${deploymentId}`);
    db.close();
  }
}

/** The load step on a platform of its own (control plane, two agents, the edge). */
export async function measureLoadStep(options: LoadStepOptions = DEFAULT_LOAD_STEP): Promise<LoadStepReport> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-load-step-'));
  const platform = await startColdStartPlatform(dir);
  try {
    return await measureLoadStepOn(platform, options);
  } finally {
    await platform.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function describeLoadStep(r: LoadStepReport): string[] {
  const w = (x: Window) => {
    const failed = Object.entries(x.failures);
    return (
      `${x.callers} caller${x.callers === 1 ? '' : 's'}: p50 ${x.p50Ms.toFixed(1)} ms, p99 ${x.p99Ms.toFixed(1)} ms, ` +
      `${x.callsPerSecond.toFixed(0)} calls/s over ${x.calls} calls` +
      (failed.length ? `, not 200: ${failed.map(([s, n]) => `${n}× ${s}`).join(', ')}` : '')
    );
  };
  const o = r.options;
  const serve =
    r.newReplicasServeMs === null
      ? `NOT within ${o.scaleOutTimeoutMs / 1000} s (target ${r.desiredAfter}, ${r.newReplicas.length} new)`
      : `${r.newReplicasServeMs} ms`;
  const each = r.newReplicas
    .map(
      (n) => `ready +${n.readyMs ?? '–'} / first call +${n.firstCallMs ?? '–'} ms on ${n.agentId.slice(-6)}`,
    )
    .join('; ');
  return [
    `replicas: ${r.before.replicas} before → ${r.after.replicas} after on ${r.after.agents} agent(s) ` +
      `(autoscaler target ${r.desiredAfter}, max ${o.maxReplicas}, most at once ${r.mostReplicas}; targetConcurrency ${o.targetConcurrency})`,
    `step 1 → ${o.callers} callers → new replicas serving: ${serve}`,
    `  new replicas (ms after the step): ${each || 'none'}`,
    `p99 before, steady at ${w(r.before.window)}`,
    `p99 during the scale-out, ${w(r.during)}`,
    `p99 after, steady at ${w(r.after.window)}`,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const report = await measureLoadStep();
  for (const l of describeLoadStep(report)) console.log(l);
  console.log(JSON.stringify(report));
}
