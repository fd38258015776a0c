import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type HostInventory, newId } from '@meridian/protocol';
import { openDatabase } from '../control-plane/src/db/client.js';
import {
  agents,
  agentWorkloadReports,
  deploymentRevisions,
  deployments,
  models,
  modelVersions,
  orgs,
  workloads,
} from '../control-plane/src/db/schema.js';
import { createLogger } from '../control-plane/src/lib/logger.js';
import { DesiredStateChanges } from '../control-plane/src/services/agents/desired-state-changes.js';
import { recordHeartbeat } from '../control-plane/src/services/agents/heartbeat.js';
import { ClusterCache } from '../control-plane/src/services/scheduler/cluster-cache.js';
import { loadClusterView } from '../control-plane/src/services/scheduler/cluster-view.js';
import { LoadSignals } from '../control-plane/src/services/scheduler/load-signals.js';
import {
  type HostSnapshot,
  placeWorkloads,
  type WorkloadNeeds,
} from '../control-plane/src/services/scheduler/placement.js';
import { Scheduler } from '../control-plane/src/services/scheduler/scheduler.js';
import { describeColdStarts, measureColdStartsOn } from './scheduler/cold-start.js';
import { startColdStartPlatform } from './scheduler/cold-start-platform.js';
import { DEFAULT_LOAD_STEP, describeLoadStep, measureLoadStepOn } from './scheduler/load-step.js';

/**
 * The scheduler at fleet scale, each figure beside a reference in the same run:
 * 1. placement of 10,000 replicas (1,000 deployments × 10, half CPU, half one T4) onto 1,000 hosts, beside a
 *    first-fit loop that neither spreads nor explains (the floor of any placement); target ≤ 1 s;
 * 2. one reconcile tick with 1,000 agents and 2,000 ready replicas on a real libsql file, with its reads and
 *    writes (lease, cluster view, plan, routing snapshot), beside the full cluster-view reads it no longer
 *    makes (the scheduler keeps the view in memory and re-reads changed rows only); steady, after a tick's
 *    worth of heartbeats, and with 100 deployments scaling up on load; target ≤ 100 ms;
 * 3. cold starts through the public API and the edge for the PaddleOCR classifier (./scheduler/cold-start.ts):
 *    deploy of a new version → first inference, and scale from zero with the model cached → first response,
 *    p50/p95 over --cold-runs runs with their phases; targets p50 ≤ 1.5 s and p95 ≤ 1 s. `--cold-runs 0` skips;
 * 4. a load step from 1 to 32 callers through the edge, two agents (./scheduler/load-step.ts): time until the
 *    new replicas serve, replicas before and after, p99 steady before and after. `--no-load-step` skips it,
 *    `--load-step` runs it alone.
 *
 *   npx tsx bench/scheduler.ts [--hosts 1000] [--replicas 10000] [--runs 5] [--cold-runs 10] [--no-load-step]
 */
const TARGET_PLACEMENT_MS = 1_000;
const TARGET_TICK_MS = 100;

const { values: flags } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1000' },
    replicas: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    'cold-runs': { type: 'string', default: '10' },
    'load-step': { type: 'boolean', default: false },
    'no-load-step': { type: 'boolean', default: false },
  },
});
const onlyLoadStep = flags['load-step'] === true;
const loadStep = flags['no-load-step'] !== true;
const hostCount = Number(flags.hosts);
const replicaCount = Number(flags.replicas);
const runs = Number(flags.runs);

const inventory = (): HostInventory => ({
  gpus: Array.from({ length: 8 }, (_, index) => ({
    index,
    uuid: `GPU-${index}`,
    name: 'Tesla T4',
    memoryTotalMiB: 15_360,
    memoryUsedMiB: 360,
    memoryFreeMiB: 15_000,
    utilizationPct: 0,
    temperatureC: null,
    powerDrawW: null,
  })),
  cpu: { cores: 32, memoryMiB: 262_144 },
  disk: { freeBytes: 2e12, totalBytes: 4e12 },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const timed = async (fn: () => unknown) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
/** CPU time (user + system, ms) this process spent, summed over `timed` calls wrapped by `cpu`: on a machine
 * shared with other work, what a tick costs more steadily than its wall time. */
const cpuOf = new Map<number[], number[]>();
const cpu = async (into: number[], fn: () => unknown) => {
  const before = process.cpuUsage();
  const wall = await timed(fn);
  const used = process.cpuUsage(before);
  const list = cpuOf.get(into) ?? [];
  list.push((used.user + used.system) / 1000);
  cpuOf.set(into, list);
  into.push(wall);
};
const cpuMs = (of: number[]) => ms(median(cpuOf.get(of) ?? []));
const ms = (x: number) => `${x.toFixed(1)} ms`;

console.log(
  `machine: ${availableParallelism()} cores, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} at the start`,
);
if (!onlyLoadStep) await fleet();

async function fleet(): Promise<void> {
  // 1. Placement, pure.
  const hosts: HostSnapshot[] = Array.from({ length: hostCount }, (_, i) => ({
    agentId: `agt_${String(i).padStart(6, '0')}`,
    status: 'online',
    runtimes: ['onnx', 'process'],
    inventory: inventory(),
    assigned: [],
  }));
  const pending: WorkloadNeeds[] = Array.from({ length: replicaCount }, (_, i) => {
    const gpu = i % 2 === 0;
    return {
      workloadId: `wl_${String(i).padStart(8, '0')}`,
      kind: 'model',
      group: `dep_${Math.floor(i / 10)}`,
      gpuType: gpu ? 't4' : 'cpu',
      gpuCount: gpu ? 1 : 0,
      gpuMemoryMiB: gpu ? 1_024 : 0,
      diskBytes: 600_000,
      memoryMiB: 66,
      runtimes: ['onnx'],
    };
  });
  function firstFit(): number {
    const free = hosts.map(() => ({ gpus: 8, memory: 262_144 }));
    let placed = 0;
    for (const w of pending) {
      const i = free.findIndex((f) => (w.gpuCount > 0 ? f.gpus >= w.gpuCount : f.memory >= w.memoryMiB));
      const f = free[i];
      if (!f) continue;
      f.gpus -= w.gpuCount;
      f.memory -= w.memoryMiB;
      placed += 1;
    }
    return placed;
  }
  let result = placeWorkloads(hosts, pending);
  const placementMs: number[] = [];
  const firstFitMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    placementMs.push(await timed(() => (result = placeWorkloads(hosts, pending))));
    firstFitMs.push(await timed(firstFit));
  }
  const perHost = new Map<string, Map<string, number>>();
  for (const p of result.placed) {
    const group = pending[Number(p.workloadId.slice(3))]?.group ?? '';
    const counts = perHost.get(p.agentId) ?? new Map<string, number>();
    counts.set(group, (counts.get(group) ?? 0) + 1);
    perHost.set(p.agentId, counts);
  }
  const worstSpread = Math.max(...[...perHost.values()].flatMap((m) => [...m.values()]));

  // 2. A tick on libsql with 1,000 agents.
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-scheduler-'));
  const { db, close } = await openDatabase(`file:${join(dir, 'bench.db')}`);
  const now = Date.now();
  const orgId = newId('org');
  await db.insert(orgs).values({ id: orgId, name: 'bench' });
  const modelId = newId('model');
  await db.insert(models).values({ id: modelId, orgId, name: 'cls', tags: {}, updatedAt: new Date(now) });
  const versionId = newId('modelVersion');
  await db.insert(modelVersions).values({
    id: versionId,
    orgId,
    modelId,
    version: 1,
    status: 'ready',
    format: 'onnx',
    runtime: 'onnx',
    objectKey: 'k',
    fileName: 'cls.onnx',
    sizeBytes: 600_000,
    tags: {},
    metadata: {},
  });
  const agentIds = hosts.slice(0, 1_000).map((h) => h.agentId);
  const chunk = <T>(xs: T[], n = 200) =>
    Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
  for (const part of chunk(agentIds))
    await db.insert(agents).values(
      part.map((id) => ({
        id,
        credentialHash: `hash-${id}`,
        hostname: id,
        agentVersion: '0.1.0',
        dataPlaneUrl: `http://10.0.0.1:9090/${id}`,
        runtimes: ['onnx', 'process'] as ('onnx' | 'process')[],
        inventory: inventory(),
        lastHeartbeatAt: new Date(now),
      })),
    );
  const depIds = Array.from({ length: 1_000 }, () => newId('deployment'));
  for (const part of chunk(depIds)) {
    await db.insert(deployments).values(
      part.map((id, i) => ({
        id,
        orgId,
        name: `dep-${id.slice(-8)}-${i}`,
        modelId,
        runtime: 'onnx' as const,
        gpuType: 'cpu' as const,
        gpuCount: 0,
        minReplicas: 2,
        maxReplicas: 8,
        desiredReplicas: 2,
        status: 'ready' as const,
        createdBy: 'bench',
        updatedAt: new Date(now),
      })),
    );
    await db.insert(deploymentRevisions).values(
      part.map((id) => ({
        deploymentId: id,
        revision: 1,
        modelVersionId: versionId,
        requested: 'version:1',
      })),
    );
  }
  const replicas = depIds.flatMap((deploymentId, d) =>
    [0, 1].map((k) => ({
      id: newId('workload'),
      deploymentId,
      agentId: agentIds[(2 * d + k) % agentIds.length] ?? '',
    })),
  );
  for (const part of chunk(replicas)) {
    await db.insert(workloads).values(
      part.map((w) => ({
        id: w.id,
        kind: 'model' as const,
        orgId,
        deploymentId: w.deploymentId,
        revision: 1,
        agentId: w.agentId,
        gpuType: 'cpu' as const,
        gpuCount: 0,
        diskBytes: 600_000,
        phase: 'ready' as const,
        placedAt: new Date(now),
        readyAt: new Date(now),
      })),
    );
    await db.insert(agentWorkloadReports).values(
      part.map((w) => ({
        agentId: w.agentId,
        workloadId: w.id,
        kind: 'model' as const,
        phase: 'ready' as const,
        updatedAt: new Date(now),
      })),
    );
  }
  const signals = new LoadSignals();
  const scheduler = new Scheduler({
    db,
    logger: createLogger('silent'),
    changes: new DesiredStateChanges(),
    instanceId: 'bench',
    signals,
    heartbeatTimeoutMs: 3_600_000,
  });
  await scheduler.tick(now); // Writes the first routing snapshot.
  // Ticks 2 s apart, as the scheduler's interval: the lease is renewed every third, as it would be.
  const tickAt = (i: number) => now + 2_000 * (i + 1);
  const readMs: number[] = [];
  const cachedMs: number[] = [];
  const steadyMs: number[] = [];
  const cache = new ClusterCache(db);
  await cache.read(now);
  const ticks = Math.max(runs, 10);
  for (let i = 0; i < ticks; i++) {
    readMs.push(await timed(() => loadClusterView(db, now)));
    cachedMs.push(await timed(() => cache.read(now + 1 + i)));
    await cpu(steadyMs, () => scheduler.tick(tickAt(i)));
  }
  // A tick's worth of heartbeats before each tick: 1,000 agents every 15 s, a tick every 2 s → 134, each with
  // its two replicas ready (as the real route writes them). The tick re-reads those rows and writes nothing.
  const heartbeatsPerTick = Math.ceil((agentIds.length * 2) / 15);
  const replicasOfAgent = new Map<string, string[]>();
  for (const w of replicas) replicasOfAgent.set(w.agentId, [...(replicasOfAgent.get(w.agentId) ?? []), w.id]);
  const heartbeatDeps = {
    db,
    changes: new DesiredStateChanges(),
    heartbeatIntervalSeconds: 15,
  } as unknown as Parameters<typeof recordHeartbeat>[0];
  const heartbeatMs: number[] = [];
  for (let i = ticks; i < 2 * ticks; i++) {
    for (let k = 0; k < heartbeatsPerTick; k++) {
      const agentId = agentIds[(i * heartbeatsPerTick + k) % agentIds.length] ?? '';
      const workloads = (replicasOfAgent.get(agentId) ?? []).map((workloadId) => ({
        workloadId,
        kind: 'model' as const,
        phase: 'ready' as const,
      }));
      await recordHeartbeat(
        heartbeatDeps,
        agentId,
        { inventory: inventory(), workloads },
        new Date(tickAt(i) - 1),
      );
    }
    await cpu(heartbeatMs, () => scheduler.tick(tickAt(i)));
  }
  // 100 deployments hit by a burst after 40 quiet seconds: 400 in flight on each of their two replicas, over
  // the 6 s panic window 133 per deployment against a target of 16 per replica: panic mode, 8 wanted (max 8).
  for (const w of replicas.slice(0, 200))
    signals.recordAgentLoad(w.agentId, {
      sentAt: Date.now(),
      replicas: [{ workloadId: w.id, inFlight: 400, queued: 0 }],
    });
  const scaleRuns: number[] = [];
  await cpu(scaleRuns, () => scheduler.tick(tickAt(2 * ticks)));
  const scaleMs = scaleRuns[0] ?? Number.NaN;
  const scaled = (await db.select({ id: workloads.id }).from(workloads)).length - replicas.length;
  await scheduler.stop();
  close();
  rmSync(dir, { recursive: true, force: true });

  const verdict = (x: number, target: number) => (x <= target ? 'meets' : 'MISSES');
  console.log(
    `\nPlacement: ${replicaCount.toLocaleString()} replicas onto ${hostCount.toLocaleString()} hosts (median of ${runs})`,
  );
  console.log(
    `  placeWorkloads (spread, checks, reasons)   ${ms(median(placementMs))}   ${verdict(median(placementMs), TARGET_PLACEMENT_MS)} ≤ ${TARGET_PLACEMENT_MS} ms`,
  );
  console.log(
    `  reference: first-fit, no spread            ${ms(median(firstFitMs))}   ratio ${(median(placementMs) / median(firstFitMs)).toFixed(1)}×`,
  );
  console.log(
    `  placed ${result.placed.length}, unschedulable ${result.unschedulable.length}, most replicas of one deployment on one host: ${worstSpread}`,
  );
  console.log(
    `\nReconcile tick: 1,000 agents, 1,000 deployments, 2,000 ready replicas, libsql file (median of ${readMs.length})`,
  );
  console.log(
    `  reference: cluster-view reads, all rows    ${ms(median(readMs))}   (a tick's full re-read: first tick, lease taken, every 60 s)`,
  );
  console.log(
    `  cluster view kept in memory, no change      ${ms(median(cachedMs))}   (reads the change log, copies the view)`,
  );
  console.log(
    `  tick, nothing to change                    ${ms(median(steadyMs))}   ${verdict(median(steadyMs), TARGET_TICK_MS)} ≤ ${TARGET_TICK_MS} ms   (slowest ${ms(Math.max(...steadyMs))}; CPU ${cpuMs(steadyMs)})`,
  );
  console.log(
    `  tick after ${heartbeatsPerTick} heartbeats                 ${ms(median(heartbeatMs))}   ${verdict(median(heartbeatMs), TARGET_TICK_MS)} ≤ ${TARGET_TICK_MS} ms   (1,000 agents every 15 s, one tick's worth; slowest ${ms(Math.max(...heartbeatMs))}; CPU ${cpuMs(heartbeatMs)})`,
  );
  console.log(
    `  tick, 100 deployments scaling 2 → 8        ${ms(scaleMs)}   ${verdict(scaleMs, TARGET_TICK_MS)} ≤ ${TARGET_TICK_MS} ms   (${scaled} replicas created and placed, events, snapshot; CPU ${cpuMs(scaleRuns)})`,
  );
}

const coldRuns = onlyLoadStep ? 0 : Number(flags['cold-runs']);
if (coldRuns > 0 || loadStep) {
  // One platform for both: the cold starts on one agent, then the load step adds a second.
  const dir = await mkdtemp(join(tmpdir(), 'bench-scheduler-platform-'));
  const platform = await startColdStartPlatform(dir);
  try {
    if (coldRuns > 0) {
      console.log(`\nCold starts through the edge, PaddleOCR classifier (${coldRuns} runs each, one agent)`);
      for (const line of describeColdStarts(await measureColdStartsOn(platform, coldRuns)))
        console.log(`  ${line}`);
    }
    if (loadStep) {
      const o = DEFAULT_LOAD_STEP;
      console.log(
        `\nLoad step through the edge, PaddleOCR classifier, two agents: 1 → ${o.callers} callers, ` +
          `min 1, max ${o.maxReplicas}, targetConcurrency ${o.targetConcurrency}, ${o.steadyMs / 1000} s steady windows`,
      );
      for (const line of describeLoadStep(await measureLoadStepOn(platform))) console.log(`  ${line}`);
    }
  } finally {
    await platform.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(
  `\nload average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} at the end`,
);
