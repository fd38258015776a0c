import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CALLER_NAMED_HEADER } from '@meridian/protocol';
import { type CallCounts, callsBetween } from './edge/control-plane-proxy.js';
import { afterIdleGap, RECORD_FRESH_MS, type Span } from './edge/idle-lookups.js';
import { runLoad, sendOnce } from './edge/load.js';
import {
  createTenant,
  deployClassifier,
  type Platform,
  routingSnapshot,
  startPlatform,
} from './edge/platform.js';
import {
  freePort,
  machineJiffies,
  pinTree,
  processCpuSplit,
  REPO_ROOT,
  startProcess,
} from './edge/processes.js';
import { locateWithSourceMap, openProfiler, topSelfTime } from './edge/profile.js';
import {
  LABEL_WIDTH,
  LOADGEN_LIMIT,
  mergeRounds,
  pct,
  printCell,
  printRoundRatios,
  printTargets,
  verdict,
} from './edge/report.js';
import { classifierBody, edgeRequest, signedReplicaRequests } from './edge/requests.js';
import {
  type BenchContext,
  checkTargets,
  requestFor,
  startRawWorkerd,
  startTargets,
  WORKERD,
} from './edge/targets.js';
import type { Cell, EdgeStats, Target, Upstream } from './edge/types.js';

/**
 * The edge benchmark: what the Meridian edge (auth + limits + routing + usage) costs over a bare
 * pass-through Worker, in raw workerd (production-like) and in the local Miniflare set-up `npm start` runs,
 * beside direct calls to the upstream, nginx `proxy_pass` and (raw workerd) a signing floor Worker that does
 * only the signed forward's fixed work (bench/edge/signing-floor-worker.js) and a header-signing floor that
 * signs the headers and streams the body (the same Worker, SIGN_BODY "false"); against the real agent serving
 * the PaddleOCR classifier and against a fixed-response upstream (so that the ratio shows the edge's own cost). It also
 * counts the edge's control-plane calls and limiter (Durable Object) calls during each measured window.
 *   npx tsx bench/edge.ts [--duration 5] [--warmup 2] [--connections 1,50] [--width 8] [--rounds 1]
 *     [--profile] [--runtimes workerd,miniflare,none] [--upstreams agent,fixed] [--pin]
 * --width is the classifier input's width (8 or the model's real 192); --profile also records a CPU profile
 * of the edge in raw workerd under load (fixed upstream, the largest --connections) into bench/results/.
 * --runtimes and --upstreams choose the cells: `none` is the direct and nginx rows; Miniflare is not started
 * unless chosen. A quick before/after of the edge's own cost: --runtimes workerd --upstreams fixed.
 * --pin gives the proxies (nginx, workerd, Miniflare) the last CPU and everything else (this load generator,
 * the upstreams, the control plane) the first: on a 2-core machine the scheduler otherwise decides, cell by
 * cell, whether a proxy shares its core with the client, and its throughput moves with that luck rather than
 * with its own CPU cost.
 */
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '1,50' },
    width: { type: 'string', default: '8' },
    profile: { type: 'boolean', default: false },
    /** Repeats the whole grid; the targets use each cell's median over the rounds. */
    rounds: { type: 'string', default: '1' },
    runtimes: { type: 'string', default: 'workerd,miniflare,none' },
    upstreams: { type: 'string', default: 'agent,fixed' },
    pin: { type: 'boolean', default: false },
  },
});
const RUNTIMES = new Set(flags.runtimes.split(','));
const UPSTREAMS = new Set(flags.upstreams.split(','));
const DURATION_MS = Number(flags.duration) * 1000;
const WARMUP_MS = Number(flags.warmup) * 1000;
const CONNECTIONS = flags.connections.split(',').map(Number);
const WIDTH = Number(flags.width);
const ROUNDS = Math.max(1, Number(flags.rounds));
const C_HIGH = Math.max(...CONNECTIONS);
/** With --pin, the CPU the proxies run on. */
const PROXY_CPU = cpus().length - 1;
/** A key limit that is checked on every call and never reached: the limiter path runs, nothing is refused. */
const RATE_LIMITS = [{ name: 'bench', limit: 1_000_000_000, periodSeconds: 60 }];

const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-edge-'));
const cleanups: (() => Promise<void> | void)[] = [];
const started = Date.now();
const say = (line: string) => console.log(line);
const bench: BenchContext = { dir, cleanups, say };

async function main() {
  const workerdVersion = execFileSync(WORKERD, ['--version'], { encoding: 'utf8' }).trim();
  say(
    `edge bench: ${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up, callers ${CONNECTIONS.join(', ')}; ` +
      `${cpus().length} CPUs, node ${process.version}, ${workerdVersion}; all on 127.0.0.1`,
  );
  // Everything started from here on inherits the first CPU; the proxies move to the last once started.
  if (flags.pin) pinTree(process.pid, 0);
  const { body, headerLength } = classifierBody(WIDTH);
  say(
    `body: PaddleOCR classifier input FP32 1×3×48×${WIDTH}, OIP binary extension (${body.byteLength} B), binary output`,
  );

  // The platform: control plane + agent processes, a tenant on Enterprise, the classifier deployed twice.
  const platform = await startPlatform(dir);
  cleanups.push(() => platform.stop());
  edgeServiceToken = platform.edgeServiceToken;
  const tenant = await createTenant(platform, RATE_LIMITS);
  const agentDeploymentId = await deployClassifier(platform, tenant.token, 'cls');
  const fixedDeploymentId = await deployClassifier(platform, tenant.token, 'cls-fixed');
  const snapshot = await routingSnapshot(platform);
  const signedFor = (deploymentId: string) => {
    const d = snapshot.deployments.find((x) => x.deploymentId === deploymentId);
    const version = d?.versions[0];
    const replica = version?.replicas[0];
    if (!d || !version || !replica) throw new Error(`deployment ${deploymentId} has no routed replica`);
    const signed = signedReplicaRequests({
      platformKey: platform.dataPlaneSigningKey,
      agentId: replica.agentId,
      keyGeneration: replica.keyGeneration ?? 1,
      deploymentId,
      versionId: version.versionId,
      usage: { orgId: tenant.orgId, keyId: tenant.keyId, userId: null },
      body,
      headerLength,
      callerNames: { name: d.name, version: String(version.version) },
    });
    return { url: new URL(replica.url), signed };
  };
  const agentRoute = signedFor(agentDeploymentId);
  const fixedRoute = signedFor(fixedDeploymentId);

  // The fixed upstream answers what the agent answered to this very request.
  const agentPort = Number(agentRoute.url.port);
  const recorded = await sendOnce(agentPort, agentRoute.signed());
  if (recorded.status !== 200)
    throw new Error(
      `the agent answered the signed request with ${recorded.head}\n${recorded.body.toString()}`,
    );
  const headerOf = (name: string) => new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i').exec(recorded.head)?.[1];
  const recordedHeaders: Record<string, string> = {};
  for (const name of ['content-type', 'inference-header-content-length', CALLER_NAMED_HEADER]) {
    const value = headerOf(name);
    if (value !== undefined) recordedHeaders[name] = value;
  }
  const recordedPath = join(dir, 'fixed-response.json');
  writeFileSync(
    recordedPath,
    JSON.stringify({ status: 200, headers: recordedHeaders, bodyBase64: recorded.body.toString('base64') }),
  );
  const fixed = await startProcess({
    name: 'fixed upstream',
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/edge/fixed-upstream.ts', recordedPath],
    env: { PATH: process.env.PATH },
    ready: /"msg":"listening","port":(\d+)/,
  });
  cleanups.push(() => fixed.stop());
  const fixedUrl = `http://127.0.0.1:${fixed.value}`;
  say(
    `upstreams: agent ${agentRoute.url.origin} (deployment 'cls', response ${recorded.body.byteLength} B); ` +
      `fixed-response node:http server ${fixedUrl} answering those same bytes`,
  );
  say(
    "trivial upstream wiring: a second deployment 'cls-fixed' of the same model is registered and placed as usual; " +
      'the counting proxy between each edge and the control plane rewrites its replica URL in the routing snapshots ' +
      'it passes on to the fixed server (the edge routes, signs, limits and meters it like any deployment)',
  );

  const upstreams: Upstream[] = [
    {
      key: 'agent',
      port: agentPort,
      process: platform.agent,
      deploymentName: 'cls',
      signed: agentRoute.signed,
      viaEdge: edgeRequest({ name: 'cls', apiKey: tenant.apiKey, body, headerLength }),
    },
    {
      key: 'fixed',
      port: Number(fixed.value),
      process: fixed,
      deploymentName: 'cls-fixed',
      signed: fixedRoute.signed,
      viaEdge: edgeRequest({ name: 'cls-fixed', apiKey: tenant.apiKey, body, headerLength }),
    },
  ];
  const replicaUrls = new Map([[fixedDeploymentId, fixedUrl]]);

  const targets = (
    await startTargets(bench, platform, upstreams, replicaUrls, { miniflare: RUNTIMES.has('miniflare') })
  ).filter((t) => RUNTIMES.has(t.runtime));
  const chosen = upstreams.filter((u) => UPSTREAMS.has(u.key));
  if (flags.pin) {
    const proxies = new Set(targets.flatMap((t) => upstreams.map((u) => t.proxy(u)?.pid ?? -1)));
    proxies.delete(-1);
    for (const pid of proxies) pinTree(pid, PROXY_CPU);
    say(
      `pinned: the proxies (${proxies.size} process trees) on CPU ${PROXY_CPU}; the load generator, upstreams and platform on CPU 0`,
    );
  }
  await checkTargets(bench, targets, chosen);
  // These machines are shared: what else runs moves every figure, so the run says how busy it was.
  const idle0 = machineJiffies();
  await new Promise((r) => setTimeout(r, 2_000));
  const idle1 = machineJiffies();
  say(
    `machine busy before the cells (everything else on it): ${pct((idle1.busy - idle0.busy) / Math.max(1, idle1.total - idle0.total)).trim()} of ${cpus().length} CPUs`,
  );

  const cells = new Map<string, Cell[]>();
  const cellKey = (t: Target, u: Upstream, c: number) => `${t.label}|${u.key}|${c}`;
  // The checks above warmed every cache: from here on, a key or org lookup is a periodic refresh.
  const warmFrom = new Map(
    targets.flatMap((t) => (t.edge ? [[t.label, t.edge.proxy.counts()] as const] : [])),
  );
  const cellsStarted = Date.now();
  // When each edge took requests, to tell a lookup after an idle gap from one a warm edge made.
  const spans = new Map<string, Span[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    say('');
    say(
      `${ROUNDS > 1 ? `round ${round}: ` : ''}${'upstream'.padEnd(8)} ${'c'.padStart(3)}  ${'target'.padEnd(LABEL_WIDTH)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  fails  loadgen  machine  upstream µs/req  hop µs/req`,
    );
    // Every other round runs the targets in reverse, so no target always follows the same one.
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const u of chosen)
      for (const c of CONNECTIONS)
        for (const t of order) {
          if (t.broken?.[u.key]) continue;
          const start = Date.now();
          const cell = await measure(t, u, c);
          spans.set(t.label, [...(spans.get(t.label) ?? []), { start, end: Date.now() }]);
          cells.set(cellKey(t, u, c), [...(cells.get(cellKey(t, u, c)) ?? []), cell]);
          printCell(say, t, u, c, cell);
        }
  }

  printTargets(say, CONNECTIONS, targets, chosen, (t, u, c) => mergeRounds(cells.get(cellKey(t, u, c))));
  printRoundRatios(say, C_HIGH, targets, chosen, (t, u, c) => cells.get(cellKey(t, u, c)) ?? []);
  // An edge gets requests only in its own cells (and the stats reads, which never reach the control plane),
  // so every key or org lookup after the checks was made on the path of one of the benchmark's requests.
  const seconds = ((Date.now() - cellsStarted) / 1000).toFixed(0);
  for (const t of targets) {
    const from = warmFrom.get(t.label);
    if (!t.edge || !from) continue;
    const warm = callsBetween(from, t.edge.proxy.counts());
    const paths = [...new Set(warm.otherPaths.map((x) => x.replace(/\/(org|key|usr)_[0-9a-z]+/g, '/$1_…')))];
    const afterIdle = warm.otherAt.filter((at) =>
      afterIdleGap(at, spans.get(t.label) ?? [], cellsStarted, WARMUP_MS),
    ).length;
    const warmOnPath = warm.other - afterIdle;
    say(
      `${t.label}, over all ${seconds} s of cells (warm-ups included): ${warm.other} control-plane calls on the request path${paths.length ? ` [${paths.join(', ')}]` : ''}, ${afterIdle} of them the first call after the edge sat idle > ${RECORD_FRESH_MS / 1000} s (records may not be served staler: the revocation bound), ${warmOnPath} while warm ${verdict(warmOnPath === 0)}; background ${warm.routing} routing pulls, ${warm.usage} usage flushes, ${warm.refresh} refreshes ahead`,
    );
  }
  if (cells.size && [...cells.values()].flat().some((c) => c.loadgenCpu > LOADGEN_LIMIT))
    say(
      `* the load generator used more than ${LOADGEN_LIMIT * 100}% of a core in that cell: its figure is partly the client's`,
    );
  if (flags.profile) await profileEdge(platform, upstreams, replicaUrls);
  say(`\ntotal run time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function edgeStats(port: number, token: string): Promise<EdgeStats | string> {
  try {
    // Bounded: an edge that stopped answering fails its cell instead of holding the whole run.
    const res = await fetch(`http://127.0.0.1:${port}/internal/edge-stats`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return `n/a (GET /internal/edge-stats answered ${res.status})`;
    }
    const json = (await res.json()) as Partial<EdgeStats>;
    if (typeof json.limiterCalls !== 'number' || typeof json.predictions !== 'number')
      return `n/a (unexpected answer ${JSON.stringify(json).slice(0, 100)})`;
    return { limiterCalls: json.limiterCalls, predictions: json.predictions };
  } catch (err) {
    return `n/a (${err instanceof Error ? err.message : String(err)})`;
  }
}

let edgeServiceToken = '';

async function measure(t: Target, u: Upstream, c: number): Promise<Cell> {
  const proxy = t.proxy(u);
  let upstreamCpu0 = 0;
  let hopCpu0 = 0;
  let machine0 = machineJiffies();
  let calls0: CallCounts | undefined;
  let stats0: EdgeStats | string | undefined;
  let upstreamCpu = 0;
  let hopCpu = 0;
  let machineBusy = 0;
  let calls: CallCounts | undefined;
  let stats: Cell['stats'];
  const result = await runLoad({
    port: t.port(u),
    connections: c,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    request: requestFor(t, u),
    atWindowStart: async () => {
      if (t.edge) {
        stats0 = await edgeStats(t.edge.port, edgeServiceToken);
        calls0 = t.edge.proxy.counts();
      }
      upstreamCpu0 = u.process.cpuMicros();
      hopCpu0 = proxy?.cpuMicros() ?? 0;
      machine0 = machineJiffies();
    },
    atWindowEnd: async () => {
      upstreamCpu = u.process.cpuMicros() - upstreamCpu0;
      hopCpu = (proxy?.cpuMicros() ?? 0) - hopCpu0;
      const machine1 = machineJiffies();
      machineBusy = (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total);
      if (t.edge && calls0) {
        calls = callsBetween(calls0, t.edge.proxy.counts());
        const stats1 = await edgeStats(t.edge.port, edgeServiceToken);
        stats =
          typeof stats0 === 'string' || stats0 === undefined
            ? (stats0 ?? 'n/a')
            : typeof stats1 === 'string'
              ? stats1
              : { before: stats0, after: stats1 };
      }
    },
  });
  const requests = Math.max(1, result.ok + result.failures);
  return {
    ...result,
    upstreamUsPerReq: upstreamCpu / requests,
    hopUsPerReq: proxy ? hopCpu / requests : undefined,
    machineBusy,
    ...(calls ? { calls } : {}),
    ...(stats ? { stats } : {}),
  };
}

/**
 * Records a V8 CPU profile of the edge Worker in raw workerd under load (fixed upstream, so the edge's own
 * work dominates) through workerd's inspector, into bench/results/, and prints where the time goes. A
 * separate workerd process: the inspector stays off for the measured cells.
 */
async function profileEdge(platform: Platform, upstreams: Upstream[], replicaUrls: Map<string, string>) {
  const inspectorPort = await freePort();
  const buildDir = join(dir, 'build');
  const profiled = await startRawWorkerd(bench, platform, upstreams, replicaUrls, buildDir, inspectorPort);
  if (flags.pin) pinTree(profiled.process.pid, PROXY_CPU);
  const fixedUpstream = upstreams.find((u) => u.key === 'fixed') as Upstream;
  const profiler = await openProfiler(`ws://127.0.0.1:${inspectorPort}/edge`);
  let cpu0 = processCpuSplit(profiled.process.pid);
  let cpu = cpu0;
  const result = await runLoad({
    port: profiled.edge.port,
    connections: C_HIGH,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    request: () => fixedUpstream.viaEdge,
    atWindowStart: async () => {
      await profiler.start(100);
      cpu0 = processCpuSplit(profiled.process.pid);
    },
    atWindowEnd: async () => {
      cpu = processCpuSplit(profiled.process.pid);
    },
  });
  const profile = await profiler.stop();
  profiler.close();
  const resultsDir = join(REPO_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `edge-workerd-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const locate = locateWithSourceMap('edge.js', readFileSync(join(buildDir, 'index.js.map'), 'utf8'));
  say('');
  say(
    `CPU profile of the edge in raw workerd, fixed upstream, c=${C_HIGH}, ${DURATION_MS / 1000} s (inspector on, 100 µs sampling): ` +
      `${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(3)} ms, ${result.failures} failures; ` +
      `workerd process CPU per request: ${((cpu.user - cpu0.user) / Math.max(1, result.ok)).toFixed(0)} µs user + ${((cpu.system - cpu0.system) / Math.max(1, result.ok)).toFixed(0)} µs system`,
  );
  say(`  saved to ${file} (open in Chrome DevTools › Performance, or speedscope); config ${profiled.config}`);
  for (const line of topSelfTime(profile, 25, locate)) say(`  ${line}`);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
