import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import { type ColdStartPlatform, startColdStartPlatform } from './cold-start-platform.js';

// Cold starts through the public API and the edge, as a user sees them, for the PaddleOCR classifier:
// deploy of a version no agent has cached → first 200, and a call to a deployment at zero (model cached) →
// its 200. Each run's phases come from the replica's row (placed, pulling, loading, ready, first call), in ms
// after the request that started it. Run alone: `tsx bench/scheduler/cold-start.ts [runs]`.

const PHASES = ['placed_at', 'pulling_at', 'loading_at', 'ready_at', 'first_call_at'] as const;
type Phase = (typeof PHASES)[number];

export interface ColdStartRun {
  /** From the request that started it (deploy, or the call at zero) to the first 200 through the edge. */
  ms: number;
  /** Each phase of the replica that served it, in ms after that request; absent when not recorded. */
  phases: Partial<Record<Phase, number>>;
}

export interface ColdStartReport {
  deploy: ColdStartRun[];
  wake: ColdStartRun[];
}

type Bench = ColdStartPlatform & { db: Client; modelId: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls the deployment until it answers 200 (404 while routing has not seen it yet); answers when. */
async function firstAnswer(b: Bench, name: string, deadlineMs = 60_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const status = await b.infer(name);
    if (status === 200) return Date.now();
    if (status !== 404 && status !== 503) throw new Error(`${name} answered ${status}`);
    await sleep(20);
  }
  throw new Error(`${name}: no 200 within ${deadlineMs} ms`);
}

/** The phases of the deployment's newest replica, in ms after `from`. */
async function phasesOf(db: Client, deploymentId: string, from: number): Promise<ColdStartRun['phases']> {
  const rs = await db.execute({
    sql: `select ${PHASES.join(', ')} from workloads where deployment_id = ? order by created_at desc limit 1`,
    args: [deploymentId],
  });
  const row = rs.rows[0];
  const phases: ColdStartRun['phases'] = {};
  for (const p of PHASES) if (row?.[p] != null) phases[p] = Number(row[p]) - from;
  return phases;
}

async function replicaCount(db: Client, deploymentId: string): Promise<number> {
  const rs = await db.execute({
    sql: 'select count(*) as n from workloads where deployment_id = ?',
    args: [deploymentId],
  });
  return Number(rs.rows[0]?.n);
}

async function createDeployment(b: Bench, name: string, settings: Record<string, unknown>): Promise<string> {
  const created = await b.call('POST', '/v1/deployments', {
    name,
    model: b.modelId,
    gpuType: 'cpu',
    deterministic: false,
    ...settings,
  });
  if (created.status !== 201)
    throw new Error(`deploying ${name}: ${created.status} ${JSON.stringify(created.json)}`);
  return String(created.json.id);
}

/** Deploys a freshly uploaded version (in no cache) and times its first 200 through the edge. */
async function deployRun(b: Bench, k: number): Promise<ColdStartRun> {
  const version = await b.uploadClassifier(b.modelId);
  const name = `cold-${k}`;
  const started = Date.now();
  const id = await createDeployment(b, name, { version, minReplicas: 1, maxReplicas: 1 });
  const ms = (await firstAnswer(b, name)) - started;
  await sleep(1_200); // the agent's next load report carries the first call
  const run = { ms, phases: await phasesOf(b.db, id, started) };
  await b.call('DELETE', `/v1/deployments/${id}`);
  return run;
}

/** Waits for the deployment to reach zero (and the edge's routing to show it), then times one call. */
async function wakeRun(b: Bench, id: string, name: string): Promise<ColdStartRun> {
  const until = Date.now() + 120_000;
  while ((await replicaCount(b.db, id)) > 0) {
    if (Date.now() > until) throw new Error(`${name} never reached zero`);
    await sleep(200);
  }
  await sleep(2_500); // past the edge's routing refresh (2 s): the call finds no replica and is held
  const started = Date.now();
  const ms = (await firstAnswer(b, name)) - started;
  await sleep(1_200);
  return { ms, phases: await phasesOf(b.db, id, started) };
}

/** Both measurements, `runs` times each, on a platform of its own (control plane, one agent, the edge). */
export async function measureColdStarts(
  runs = 10,
  which: readonly ('deploy' | 'wake')[] = ['deploy', 'wake'],
): Promise<ColdStartReport> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-cold-start-'));
  const platform = await startColdStartPlatform(dir);
  try {
    return await measureColdStartsOn(platform, runs, which);
  } finally {
    await platform.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Both measurements on a running platform with one agent; the deployments it made are deleted after. */
export async function measureColdStartsOn(
  platform: ColdStartPlatform,
  runs = 10,
  which: readonly ('deploy' | 'wake')[] = ['deploy', 'wake'],
): Promise<ColdStartReport> {
  const db = createClient({ url: `file:${join(platform.cpDataDir, 'control-plane.db')}` });
  let zero: string | undefined;
  try {
    const model = await platform.call('POST', '/v1/models', { name: 'cls' });
    const b: Bench = { ...platform, db, modelId: String(model.json.id) };
    // A first deployment warms the agent's onnxruntime and the edge's isolate; it is not counted.
    await deployRun(b, 0);
    const deployRuns: ColdStartRun[] = [];
    if (which.includes('deploy')) for (let k = 1; k <= runs; k++) deployRuns.push(await deployRun(b, k));
    if (!which.includes('wake')) return { deploy: deployRuns, wake: [] };
    const id = await createDeployment(b, 'zero', {
      version: 1,
      minReplicas: 0,
      maxReplicas: 1,
      scaleDownDelaySeconds: 0,
      scaleToZeroAfterSeconds: 1,
    });
    await firstAnswer(b, 'zero');
    zero = id;
    const wakeRuns: ColdStartRun[] = [];
    for (let k = 0; k < runs; k++) wakeRuns.push(await wakeRun(b, id, 'zero'));
    return { deploy: deployRuns, wake: wakeRuns };
  } finally {
    if (zero) await platform.call('DELETE', `/v1/deployments/${zero}`);
    db.close();
  }
}

/** Nearest-rank percentile (0–100). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** p50 / p95 of the runs and the median of each phase, as lines for a report. */
export function describeColdStarts(report: ColdStartReport): string[] {
  const line = (what: string, runs: ColdStartRun[], target: string) => {
    const ms = runs.map((r) => r.ms);
    const phases = PHASES.map((p) => {
      const values = runs.flatMap((r) => (r.phases[p] === undefined ? [] : [r.phases[p]]));
      return `${p.replace('_at', '')} ${values.length ? percentile(values, 50).toFixed(0) : '–'}`;
    });
    return (
      `${what}: p50 ${percentile(ms, 50).toFixed(0)} ms, p95 ${percentile(ms, 95).toFixed(0)} ms (${target}); ` +
      `median phases, ms after the request: ${phases.join(', ')}`
    );
  };
  return [
    line('deploy of a new version → first inference', report.deploy, 'target p50 ≤ 1500 ms'),
    line('scale from zero, model cached → first response', report.wake, 'target p95 ≤ 1000 ms'),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const only = process.argv[3];
  const which: ('deploy' | 'wake')[] | undefined = only === 'deploy' || only === 'wake' ? [only] : undefined;
  const report = await measureColdStarts(Number(process.argv[2] ?? 10), which);
  for (const l of describeColdStarts(report)) console.log(l);
  console.log(JSON.stringify(report));
}
