import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type CallCounts,
  type CountingProxy,
  callsBetween,
  startCountingProxy,
} from './edge/control-plane-proxy.js';
import { type LoadResult, runLoad, sendOnce } from './edge/load.js';
import { listening, startNginx } from './edge/nginx.js';
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
  processCpuSplit,
  REPO_ROOT,
  type Running,
  startProcess,
} from './edge/processes.js';
import { locateWithSourceMap, openProfiler, topSelfTime } from './edge/profile.js';
import { classifierBody, edgeRequest, signedReplicaRequests } from './edge/requests.js';
import { wranglerVars, writeWorkerdConfig } from './edge/workerd-config.js';

/**
 * The edge benchmark: what the Meridian edge (auth + limits + routing + usage) costs over a bare
 * pass-through Worker, in raw workerd (production-like) and in the local Miniflare set-up `npm start` runs,
 * beside direct calls to the upstream and nginx `proxy_pass`; against the real agent serving the PaddleOCR
 * classifier and against a fixed-response upstream (so that the ratio shows the edge's own cost). It also
 * counts the edge's control-plane calls and limiter (Durable Object) calls during each measured window.
 *   npx tsx bench/edge.ts [--duration 5] [--warmup 2] [--connections 1,50] [--width 8] [--rounds 1]
 *     [--profile]
 * --width is the classifier input's width (8 or the model's real 192); --profile also records a CPU profile
 * of the edge in raw workerd under load (fixed upstream, the largest --connections) into bench/results/.
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
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const WARMUP_MS = Number(flags.warmup) * 1000;
const CONNECTIONS = flags.connections.split(',').map(Number);
const WIDTH = Number(flags.width);
const ROUNDS = Math.max(1, Number(flags.rounds));
const C_LOW = Math.min(...CONNECTIONS);
const C_HIGH = Math.max(...CONNECTIONS);
const WORKERD = join(REPO_ROOT, 'node_modules/workerd/bin/workerd');
/** A key limit that is checked on every call and never reached: the limiter path runs, nothing is refused. */
const RATE_LIMITS = [{ name: 'bench', limit: 1_000_000_000, periodSeconds: 60 }];
const TARGETS = {
  p50AddedMs: 1,
  throughputRatio: 0.7,
  predictionsPerLimiterCall: 50,
};

type UpstreamKey = 'agent' | 'fixed';
type Upstream = {
  key: UpstreamKey;
  port: number;
  process: Running;
  deploymentName: string;
  /** Signed requests for this upstream's replica path (direct, nginx and bare Worker rows). */
  signed: () => Buffer[];
  /** The request through the edge, by deployment name with the API key. */
  viaEdge: Buffer[];
};
type EdgeStats = { limiterCalls: number; predictions: number };
type EdgeHandle = { port: number; proxy: CountingProxy; process: Running };
type Target = {
  label: string;
  runtime: 'workerd' | 'miniflare' | 'none';
  kind: 'direct' | 'nginx' | 'bare' | 'edge';
  port(u: Upstream): number;
  /** The proxy's process (its descendants included) that serves `u`; none for direct calls. */
  proxy(u: Upstream): Running | undefined;
  edge?: EdgeHandle;
  /** Set when the target answered the check request with something other than a 2xx. */
  broken?: Partial<Record<UpstreamKey, string>>;
};
type Cell = LoadResult & {
  upstreamUsPerReq: number;
  hopUsPerReq: number | undefined;
  machineBusy: number;
  calls?: CallCounts;
  stats?: { before: EdgeStats; after: EdgeStats } | string;
};

const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-edge-'));
const cleanups: (() => Promise<void> | void)[] = [];
const started = Date.now();
const say = (line: string) => console.log(line);

async function main() {
  const workerdVersion = execFileSync(WORKERD, ['--version'], { encoding: 'utf8' }).trim();
  say(
    `edge bench: ${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up, callers ${CONNECTIONS.join(', ')}; ` +
      `${cpus().length} CPUs, node ${process.version}, ${workerdVersion}; all on 127.0.0.1`,
  );
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
  for (const name of ['content-type', 'inference-header-content-length']) {
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

  const targets = await startTargets(platform, upstreams, replicaUrls);
  await checkTargets(targets, upstreams);
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
  for (let round = 1; round <= ROUNDS; round++) {
    say('');
    say(
      `${ROUNDS > 1 ? `round ${round}: ` : ''}${'upstream'.padEnd(8)} ${'c'.padStart(3)}  ${'target'.padEnd(22)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  fails  loadgen  machine  upstream µs/req  hop µs/req`,
    );
    // Every other round runs the targets in reverse, so no target always follows the same one.
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const u of upstreams)
      for (const c of CONNECTIONS)
        for (const t of order) {
          if (t.broken?.[u.key]) continue;
          const cell = await measure(t, u, c);
          cells.set(cellKey(t, u, c), [...(cells.get(cellKey(t, u, c)) ?? []), cell]);
          printCell(t, u, c, cell);
        }
  }

  printTargets(targets, upstreams, (t, u, c) => mergeRounds(cells.get(cellKey(t, u, c))));
  // An edge gets requests only in its own cells (and the stats reads, which never reach the control plane),
  // so every key or org lookup after the checks was made on the path of one of the benchmark's requests.
  const seconds = ((Date.now() - cellsStarted) / 1000).toFixed(0);
  for (const t of targets) {
    const from = warmFrom.get(t.label);
    if (!t.edge || !from) continue;
    const warm = callsBetween(from, t.edge.proxy.counts());
    const paths = [...new Set(warm.otherPaths.map((x) => x.replace(/\/(org|key|usr)_[0-9a-z]+/g, '/$1_…')))];
    say(
      `${t.label}, over all ${seconds} s of cells (warm-ups included), warm: ${warm.other} control-plane calls on the request path${paths.length ? ` [${paths.join(', ')}]` : ''} ${verdict(warm.other === 0)}; background ${warm.routing} routing pulls, ${warm.usage} usage flushes`,
    );
  }
  if (cells.size && [...cells.values()].flat().some((c) => c.loadgenCpu > LOADGEN_LIMIT))
    say(
      `* the load generator used more than ${LOADGEN_LIMIT * 100}% of a core in that cell: its figure is partly the client's`,
    );
  if (flags.profile) await profileEdge(platform, upstreams, replicaUrls);
  say(`\ntotal run time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** Starts every proxy: nginx, raw workerd (bare Workers and the edge) and Miniflare (bare Workers, the edge). */
async function startTargets(
  platform: Platform,
  upstreams: Upstream[],
  replicaUrls: Map<string, string>,
): Promise<Target[]> {
  const portsBy = async () => ({ agent: await freePort(), fixed: await freePort() });

  const nginxPorts = await portsBy();
  const nginx = await startNginx(
    join(dir, 'nginx'),
    upstreams.map((u) => ({ name: u.key, port: nginxPorts[u.key], upstreamPort: u.port })),
  );
  cleanups.push(() => nginx.stop());

  // One bundle, as `npm start` and a deploy build it, for raw workerd; scripts/edge.mjs builds its own.
  const buildDir = join(dir, 'build');
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', buildDir],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const workerd = await startRawWorkerd(platform, upstreams, replicaUrls, buildDir);

  const mfProxy = await startCountingProxy(platform.cpUrl, replicaUrls);
  cleanups.push(() => mfProxy.close());
  const mfEdgePort = await freePort();
  const mfEdge = await startProcess({
    name: 'edge (Miniflare, scripts/edge.mjs)',
    command: process.execPath,
    args: ['scripts/edge.mjs'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MERIDIAN_DATA_DIR: platform.cpDataDir,
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge-miniflare'),
      MERIDIAN_EDGE_PORT: String(mfEdgePort),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: mfProxy.url,
    },
    ready: /"msg":"edge listening","url":"([^"]+)"/,
    timeoutMs: 90_000,
  });
  cleanups.push(() => mfEdge.stop());
  const mfBarePorts = await portsBy();
  const mfBare: Partial<Record<UpstreamKey, Running>> = {};
  for (const u of upstreams) {
    const bare = await startProcess({
      name: `bare Worker (Miniflare) → ${u.key}`,
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        'bench/edge/miniflare-worker.ts',
        '--script',
        join(REPO_ROOT, 'bench/edge/bare-worker.js'),
        '--upstream',
        `http://127.0.0.1:${u.port}`,
        '--port',
        String(mfBarePorts[u.key]),
        '--compatibility-date',
        /^compatibility_date = "([^"]+)"$/m.exec(
          readFileSync(join(REPO_ROOT, 'wrangler.toml'), 'utf8'),
        )?.[1] ?? '2026-04-01',
      ],
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      ready: /"msg":"listening","url":"([^"]+)"/,
      timeoutMs: 60_000,
    });
    cleanups.push(() => bare.stop());
    mfBare[u.key] = bare;
  }
  return [
    {
      label: 'direct (client-signed)',
      runtime: 'none',
      kind: 'direct',
      port: (u) => u.port,
      proxy: () => undefined,
    },
    {
      label: 'nginx proxy_pass',
      runtime: 'none',
      kind: 'nginx',
      port: (u) => nginxPorts[u.key],
      proxy: () => nginx,
    },
    {
      label: 'workerd bare Worker',
      runtime: 'workerd',
      kind: 'bare',
      port: (u) => workerd.barePorts[u.key],
      proxy: () => workerd.process,
    },
    {
      label: 'workerd edge',
      runtime: 'workerd',
      kind: 'edge',
      port: () => workerd.edge.port,
      proxy: () => workerd.process,
      edge: workerd.edge,
    },
    {
      label: 'Miniflare bare Worker',
      runtime: 'miniflare',
      kind: 'bare',
      port: (u) => mfBarePorts[u.key],
      // One Miniflare process per upstream (a Worker binds one UPSTREAM).
      proxy: (u) => mfBare[u.key],
    },
    {
      label: 'Miniflare edge',
      runtime: 'miniflare',
      kind: 'edge',
      port: () => mfEdgePort,
      proxy: () => mfEdge,
      edge: { port: mfEdgePort, proxy: mfProxy, process: mfEdge },
    },
  ];
}

async function startRawWorkerd(
  platform: Platform,
  upstreams: Upstream[],
  replicaUrls: Map<string, string>,
  buildDir: string,
  inspectorPort?: number,
): Promise<{ process: Running; edge: EdgeHandle; barePorts: Record<UpstreamKey, number>; config: string }> {
  const proxy = await startCountingProxy(platform.cpUrl, replicaUrls);
  cleanups.push(() => proxy.close());
  const edgePort = await freePort();
  const barePorts = { agent: await freePort(), fixed: await freePort() };
  const workerdDir = join(dir, inspectorPort === undefined ? 'workerd' : 'workerd-profile');
  const config = writeWorkerdConfig({
    dir: workerdDir,
    bundle: join(buildDir, 'index.js'),
    edgePort,
    edgeBindings: {
      ...wranglerVars(),
      CONTROL_PLANE_URL: proxy.url,
      EDGE_SERVICE_TOKEN: platform.edgeServiceToken,
      DATA_PLANE_SIGNING_KEY: platform.dataPlaneSigningKey,
    },
    bareUpstreams: upstreams.map((u) => ({
      name: u.key,
      url: `http://127.0.0.1:${u.port}`,
      port: barePorts[u.key],
    })),
  });
  const ports = [edgePort, ...Object.values(barePorts)];
  const running = await startProcess({
    name: 'workerd',
    command: WORKERD,
    args: [
      'serve',
      config,
      ...(inspectorPort === undefined ? [] : [`--inspector-addr=127.0.0.1:${inspectorPort}`]),
    ],
    cwd: workerdDir,
    env: { PATH: process.env.PATH },
    ready: async () => (await Promise.all(ports.map(listening))).every(Boolean),
    timeoutMs: 30_000,
  });
  cleanups.push(() => running.stop());
  return { process: running, edge: { port: edgePort, proxy, process: running }, barePorts, config };
}

/**
 * One request per target and upstream (three tries, 2 s apart, for a proxy still settling); a target that
 * does not answer 2xx is reported with its log and left out of the table.
 */
async function checkTargets(targets: Target[], upstreams: Upstream[]): Promise<void> {
  for (const t of targets)
    for (const u of upstreams) {
      let why = '';
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 2_000));
        const answer = await sendOnce(t.port(u), requestFor(t, u)()).catch((err: unknown) => ({
          status: 0,
          head: String(err),
          body: Buffer.alloc(0),
        }));
        if (answer.status >= 200 && answer.status < 300) {
          why = '';
          break;
        }
        why = `${answer.head.split('\r\n')[0]} ${answer.body.toString('utf8').slice(0, 300)}`;
      }
      if (!why) continue;
      t.broken = { ...t.broken, [u.key]: why };
      say(`!! ${t.label} → ${u.key} answered: ${why}`);
      const proxy = t.proxy(u);
      if (proxy)
        say(
          `   ${proxy.name} ${proxy.alive() ? 'is running' : 'has exited'}; its log (tail):\n${proxy.logs().slice(-1500)}`,
        );
    }
}

function requestFor(t: Target, u: Upstream): () => Buffer[] {
  return t.kind === 'edge' ? () => u.viaEdge : u.signed;
}

async function edgeStats(port: number, token: string): Promise<EdgeStats | string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/internal/edge-stats`, {
      headers: { authorization: `Bearer ${token}` },
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** One cell from its rounds: median req/s and latencies, control-plane and limiter calls summed. */
function mergeRounds(rounds: Cell[] | undefined): Cell | undefined {
  const first = rounds?.[0];
  if (!rounds || !first || rounds.length === 1) return first;
  const stats = rounds.map((r) => r.stats);
  const counted = stats.filter((x): x is { before: EdgeStats; after: EdgeStats } => typeof x === 'object');
  const sum = (f: (s: EdgeStats) => number) => counted.reduce((n, x) => n + f(x.after) - f(x.before), 0);
  return {
    ...first,
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    ...(first.calls
      ? {
          calls: rounds.reduce(
            (a, r) => ({
              routing: a.routing + (r.calls?.routing ?? 0),
              usage: a.usage + (r.calls?.usage ?? 0),
              other: a.other + (r.calls?.other ?? 0),
              otherPaths: [...a.otherPaths, ...(r.calls?.otherPaths ?? [])],
            }),
            { routing: 0, usage: 0, other: 0, otherPaths: [] as string[] },
          ),
        }
      : {}),
    ...(first.stats === undefined
      ? {}
      : {
          stats:
            counted.length < stats.length
              ? (stats.find((x) => typeof x === 'string') ?? 'n/a')
              : {
                  before: { limiterCalls: 0, predictions: 0 },
                  after: { limiterCalls: sum((x) => x.limiterCalls), predictions: sum((x) => x.predictions) },
                },
        }),
  };
}

const fixed = (n: number, digits: number, width: number) =>
  (Number.isFinite(n) ? n.toFixed(digits) : 'n/a').padStart(width);
const pct = (n: number) => `${(n * 100).toFixed(0)}%`.padStart(7);

function limiterLine(stats: Cell['stats']): string {
  if (stats === undefined) return 'limiter calls n/a';
  if (typeof stats === 'string') return `limiter calls ${stats}`;
  const limiterCalls = stats.after.limiterCalls - stats.before.limiterCalls;
  const predictions = stats.after.predictions - stats.before.predictions;
  const per = limiterCalls === 0 ? '∞' : (predictions / limiterCalls).toFixed(1);
  return `limiter calls ${limiterCalls} for ${predictions} predictions (${per} predictions per limiter call)`;
}

function callsLine(calls: CallCounts | undefined): string {
  if (!calls) return 'control plane n/a';
  const other = calls.other === 0 ? '' : ` [${[...new Set(calls.otherPaths)].join(', ')}]`;
  return `control plane: ${calls.other} on the request path${other}; background ${calls.routing} routing pulls, ${calls.usage} usage flushes`;
}

/** Above this share of a core, a cell measures the load generator as much as the server (PERFORMANCE.md). */
const LOADGEN_LIMIT = 0.3;

function printCell(t: Target, u: Upstream, c: number, r: Cell) {
  say(
    `${u.key.padEnd(8)} ${String(c).padStart(3)}  ${t.label.padEnd(22)} ${fixed(r.rps, 0, 7)} ${fixed(r.p50, 3, 8)} ${fixed(r.p99, 3, 8)}  ${String(r.failures).padStart(5)} ${pct(r.loadgenCpu)}${r.loadgenCpu > LOADGEN_LIMIT ? '*' : ' '} ${pct(r.machineBusy)}  ${fixed(r.upstreamUsPerReq, 0, 14)}  ${r.hopUsPerReq === undefined ? '         -' : fixed(r.hopUsPerReq, 0, 10)}`,
  );
  if (r.failures > 0) say(`      failures: ${r.failureSamples.join(' | ')}`);
  if (t.kind === 'edge') say(`      ${callsLine(r.calls)}; ${limiterLine(r.stats)}`);
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a ' : ok ? 'PASS' : 'FAIL';
}

/** The issue's targets, edge against the bare Worker of the same runtime, side by side. */
function printTargets(
  targets: Target[],
  upstreams: Upstream[],
  cellOf: (t: Target, u: Upstream, c: number) => Cell | undefined,
) {
  say('');
  say(
    `Targets: edge vs bare Worker in the same runtime: p50 added at c=${C_LOW} ≤ +${TARGETS.p50AddedMs} ms, ` +
      `throughput at c=${C_HIGH} ≥ ${TARGETS.throughputRatio.toFixed(2)}; ` +
      `0 control-plane calls on the request path; ≥ ${TARGETS.predictionsPerLimiterCall} predictions per limiter call`,
  );
  say(
    `${'runtime'.padEnd(10)} ${'upstream'.padEnd(8)}  ${`p50 added c=${C_LOW}`.padEnd(22)}  ${`throughput c=${C_HIGH}`.padEnd(22)}  ${'cp calls, windows'.padEnd(18)}  predictions/limiter call`,
  );
  for (const runtime of ['workerd', 'miniflare'] as const) {
    const bare = targets.find((t) => t.runtime === runtime && t.kind === 'bare');
    const edge = targets.find((t) => t.runtime === runtime && t.kind === 'edge');
    if (!bare || !edge) continue;
    for (const u of upstreams) {
      const b1 = cellOf(bare, u, C_LOW);
      const e1 = cellOf(edge, u, C_LOW);
      const bN = cellOf(bare, u, C_HIGH);
      const eN = cellOf(edge, u, C_HIGH);
      const added = b1 && e1 ? e1.p50 - b1.p50 : Number.NaN;
      const ratio = bN && eN ? eN.rps / bN.rps : Number.NaN;
      const edgeCells = CONNECTIONS.map((c) => cellOf(edge, u, c)).filter((x): x is Cell => x !== undefined);
      const onPath = edgeCells.reduce((n, x) => n + (x.calls?.other ?? 0), 0);
      const limiter = edgeCells.map((x) => x.stats);
      const counted = limiter.filter(
        (s): s is { before: EdgeStats; after: EdgeStats } => typeof s === 'object',
      );
      const calls = counted.reduce((n, s) => n + s.after.limiterCalls - s.before.limiterCalls, 0);
      const predictions = counted.reduce((n, s) => n + s.after.predictions - s.before.predictions, 0);
      const perCall =
        counted.length === 0 || counted.length < limiter.length
          ? 'n/a (no /internal/edge-stats)'
          : `${calls === 0 ? '∞' : (predictions / calls).toFixed(1)} (${calls} calls / ${predictions}) ${verdict(calls === 0 || predictions / calls >= TARGETS.predictionsPerLimiterCall)}`;
      say(
        `${(runtime === 'workerd' ? 'raw workerd' : 'Miniflare').padEnd(10)} ${u.key.padEnd(8)}  ${`${added >= 0 ? '+' : ''}${fixed(added, 2, 0)} ms ${verdict(Number.isFinite(added) ? added <= TARGETS.p50AddedMs : undefined)}`.padEnd(22)}  ${`${fixed(ratio, 2, 0)} ${verdict(Number.isFinite(ratio) ? ratio >= TARGETS.throughputRatio : undefined)}`.padEnd(22)}  ${`${onPath} ${verdict(edgeCells.length ? onPath === 0 : undefined)}`.padEnd(18)}  ${perCall}`,
      );
    }
  }
  const direct = targets.find((t) => t.kind === 'direct');
  const nginx = targets.find((t) => t.kind === 'nginx');
  if (direct && nginx)
    for (const u of upstreams) {
      const d1 = cellOf(direct, u, C_LOW);
      const n1 = cellOf(nginx, u, C_LOW);
      const dN = cellOf(direct, u, C_HIGH);
      const nN = cellOf(nginx, u, C_HIGH);
      if (d1 && n1 && dN && nN)
        say(
          `reference, nginx vs direct (${u.key}): p50 added at c=${C_LOW} ${fixed(n1.p50 - d1.p50, 2, 0)} ms, throughput at c=${C_HIGH} ${fixed(nN.rps / dN.rps, 2, 0)}`,
        );
    }
}

/**
 * Records a V8 CPU profile of the edge Worker in raw workerd under load (fixed upstream, so the edge's own
 * work dominates) through workerd's inspector, into bench/results/, and prints where the time goes. A
 * separate workerd process: the inspector stays off for the measured cells.
 */
async function profileEdge(platform: Platform, upstreams: Upstream[], replicaUrls: Map<string, string>) {
  const inspectorPort = await freePort();
  const buildDir = join(dir, 'build');
  const profiled = await startRawWorkerd(platform, upstreams, replicaUrls, buildDir, inspectorPort);
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
