import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCountingProxy } from './control-plane-proxy.js';
import { sendOnce } from './load.js';
import { listening, startNginx } from './nginx.js';
import type { Platform } from './platform.js';
import { freePort, REPO_ROOT, type Running, startProcess } from './processes.js';
import type { EdgeHandle, Target, Upstream, UpstreamKey } from './types.js';
import { wranglerVars, writeWorkerdConfig } from './workerd-config.js';

export const WORKERD = join(REPO_ROOT, 'node_modules/workerd/bin/workerd');

/** Where a run keeps its files, what it must stop at the end, and how it prints. */
export interface BenchContext {
  dir: string;
  cleanups: (() => Promise<void> | void)[];
  say(line: string): void;
}

/** Starts every proxy: nginx, raw workerd (bare Workers and the edge) and Miniflare (bare Workers, the edge). */
export async function startTargets(
  bench: BenchContext,
  platform: Platform,
  upstreams: Upstream[],
  replicaUrls: Map<string, string>,
  options: { miniflare: boolean } = { miniflare: true },
): Promise<Target[]> {
  const portsBy = async () => ({ agent: await freePort(), fixed: await freePort() });

  const nginxPorts = await portsBy();
  const nginx = await startNginx(
    join(bench.dir, 'nginx'),
    upstreams.map((u) => ({ name: u.key, port: nginxPorts[u.key], upstreamPort: u.port })),
  );
  bench.cleanups.push(() => nginx.stop());

  // One bundle, as `npm start` and a deploy build it, for raw workerd; scripts/edge.mjs builds its own.
  const buildDir = join(bench.dir, 'build');
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', buildDir],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const workerd = await startRawWorkerd(bench, platform, upstreams, replicaUrls, buildDir);

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
      label: 'workerd signing floor',
      runtime: 'workerd',
      kind: 'floor',
      port: (u) => workerd.floorPorts[u.key],
      proxy: () => workerd.process,
    },
    {
      label: 'workerd header-signing floor',
      runtime: 'workerd',
      kind: 'headerFloor',
      port: (u) => workerd.headerFloorPorts[u.key],
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
    ...(options.miniflare ? await startMiniflare(bench, platform, upstreams, replicaUrls) : []),
  ];
}

/** The local set-up `npm start` runs: the edge through scripts/edge.mjs, and a bare Worker per upstream. */
async function startMiniflare(
  bench: BenchContext,
  platform: Platform,
  upstreams: Upstream[],
  replicaUrls: Map<string, string>,
): Promise<Target[]> {
  const portsBy = async () => ({ agent: await freePort(), fixed: await freePort() });
  const mfProxy = await startCountingProxy(platform.cpUrl, replicaUrls);
  bench.cleanups.push(() => mfProxy.close());
  const mfEdgePort = await freePort();
  const mfEdge = await startProcess({
    name: 'edge (Miniflare, scripts/edge.mjs)',
    command: process.execPath,
    args: ['scripts/edge.mjs'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MERIDIAN_DATA_DIR: platform.cpDataDir,
      MERIDIAN_EDGE_STATE_DIR: join(bench.dir, 'edge-miniflare'),
      MERIDIAN_EDGE_PORT: String(mfEdgePort),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: mfProxy.url,
    },
    ready: /"msg":"edge listening","url":"([^"]+)"/,
    timeoutMs: 90_000,
  });
  bench.cleanups.push(() => mfEdge.stop());
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
    bench.cleanups.push(() => bare.stop());
    mfBare[u.key] = bare;
  }
  return [
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

export async function startRawWorkerd(
  bench: BenchContext,
  platform: Platform,
  upstreams: Upstream[],
  replicaUrls: Map<string, string>,
  buildDir: string,
  inspectorPort?: number,
): Promise<{
  process: Running;
  edge: EdgeHandle;
  barePorts: Record<UpstreamKey, number>;
  floorPorts: Record<UpstreamKey, number>;
  headerFloorPorts: Record<UpstreamKey, number>;
  config: string;
}> {
  const proxy = await startCountingProxy(platform.cpUrl, replicaUrls);
  bench.cleanups.push(() => proxy.close());
  const edgePort = await freePort();
  const barePorts = { agent: await freePort(), fixed: await freePort() };
  const floorPorts = { agent: await freePort(), fixed: await freePort() };
  const headerFloorPorts = { agent: await freePort(), fixed: await freePort() };
  const workerdDir = join(bench.dir, inspectorPort === undefined ? 'workerd' : 'workerd-profile');
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
      floorPort: floorPorts[u.key],
      headerFloorPort: headerFloorPorts[u.key],
    })),
  });
  const ports = [
    edgePort,
    ...Object.values(barePorts),
    ...Object.values(floorPorts),
    ...Object.values(headerFloorPorts),
  ];
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
  bench.cleanups.push(() => running.stop());
  return {
    process: running,
    edge: { port: edgePort, proxy, process: running },
    barePorts,
    floorPorts,
    headerFloorPorts,
    config,
  };
}

/**
 * One request per target and upstream (three tries, 2 s apart, for a proxy still settling); a target that
 * does not answer 2xx is reported with its log and left out of the table.
 */
export async function checkTargets(
  bench: BenchContext,
  targets: Target[],
  upstreams: Upstream[],
): Promise<void> {
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
      bench.say(`!! ${t.label} → ${u.key} answered: ${why}`);
      const proxy = t.proxy(u);
      if (proxy)
        bench.say(
          `   ${proxy.name} ${proxy.alive() ? 'is running' : 'has exited'}; its log (tail):\n${proxy.logs().slice(-1500)}`,
        );
    }
}

export function requestFor(t: Target, u: Upstream): () => Buffer[] {
  return t.kind === 'edge' ? () => u.viaEdge : u.signed;
}
