import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type LoadResult, runLoad } from './lib/load.js';
import { startServer } from './lib/server-process.js';

/**
 * How fast is authenticated `GET /v1/auth/me` next to a hello-world on the same framework and adapter?
 * Each server runs alone in its own process; the load generator runs here. Target: (b)/(a) ≥ 0.5.
 *
 *   npm run bench -- --connections 10 --warmup 2 --duration 10 [--cpu-prof]
 *   (or BENCH_CONNECTIONS, BENCH_WARMUP_S, BENCH_DURATION_S)
 */
const TARGET_RATIO = 0.5;
const PROFILE_DIR = 'bench/results';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '10' },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP_S ?? '2' },
    duration: { type: 'string', default: process.env.BENCH_DURATION_S ?? '10' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const connections = positive('connections', flags.connections);
const warmupSeconds = positive('warmup', flags.warmup);
const durationSeconds = positive('duration', flags.duration);

interface Target {
  label: string;
  server: string;
  path: string;
}

interface Measurement extends LoadResult {
  serverCpuMicrosPerRequest: number;
  serverCpuPercent: number;
  loadGenCpuPercent: number;
}

const TARGETS: Target[] = [
  { label: '(a) hono hello-world', server: 'hello', path: '/' },
  { label: '(b) control plane GET /v1/auth/me', server: 'control-plane', path: '/v1/auth/me' },
  ...(process.env.BENCH_BREAKDOWN
    ? [
        {
          label: '(c) control plane GET /.well-known/jwks.json',
          server: 'control-plane',
          path: '/.well-known/jwks.json',
        },
      ]
    : []),
];

async function measure(target: Target): Promise<Measurement> {
  const nodeFlags = flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const server = await startServer(target.server, nodeFlags);
  try {
    const url = `http://127.0.0.1:${server.port}${target.path}`;
    const probe = await fetch(url, { headers: server.headers });
    if (probe.status !== 200) throw new Error(`${url} answered ${probe.status}: ${await probe.text()}`);
    await runLoad({ url, headers: server.headers, connections, durationSeconds: warmupSeconds });

    const cpuBefore = server.cpuMicros();
    const ownBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const result = await runLoad({ url, headers: server.headers, connections, durationSeconds });
    const wallMicros = (performance.now() - wallBefore) * 1000;
    const serverCpu = server.cpuMicros() - cpuBefore;
    const own = process.cpuUsage(ownBefore);
    if (result.failures > 0) throw new Error(`${target.label}: ${result.failures} failed requests`);
    return {
      ...result,
      serverCpuMicrosPerRequest: serverCpu / result.requests,
      serverCpuPercent: (100 * serverCpu) / wallMicros,
      loadGenCpuPercent: (100 * (own.user + own.system)) / wallMicros,
    };
  } finally {
    await server.stop();
  }
}

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

function printTable(rows: [Target, Measurement][]): void {
  const header = ['', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'server CPU %', 'loadgen CPU %'];
  const lines = rows.map(([t, m]) => [
    t.label,
    m.requestsPerSecond.toFixed(0),
    m.p50Ms.toFixed(2),
    m.p99Ms.toFixed(2),
    m.serverCpuMicrosPerRequest.toFixed(0),
    m.serverCpuPercent.toFixed(0),
    m.loadGenCpuPercent.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]?.length ?? 0)));
  for (const line of [header, ...lines]) {
    console.log(
      line
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  '),
    );
  }
}

if (flags['cpu-prof']) mkdirSync(PROFILE_DIR, { recursive: true });
console.log(
  `autocannon: ${connections} connections, ${warmupSeconds} s warm-up, ${durationSeconds} s measured; ` +
    'servers one at a time, each in its own process on 127.0.0.1',
);
const rows: [Target, Measurement][] = [];
for (const target of TARGETS) rows.push([target, await measure(target)]);
printTable(rows);

const [hello, me] = rows.map(([, m]) => m);
if (hello && me) {
  const ratio = me.requestsPerSecond / hello.requestsPerSecond;
  const verdict = ratio >= TARGET_RATIO ? 'met' : 'NOT met';
  console.log(`ratio (b)/(a) req/s: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}: ${verdict})`);
}
if (flags['cpu-prof']) console.log(`CPU profiles of both servers: ${PROFILE_DIR}/*.cpuprofile`);
