import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './edge/load.js';
import {
  freePort,
  pinTree,
  processCpuMicros,
  REPO_ROOT,
  type Running,
  startProcess,
} from './edge/processes.js';
import { median, signed } from './edge/report.js';
import { classifierBody } from './edge/requests.js';
import { WORKERD } from './edge/targets.js';
import { COMPATIBILITY_DATE } from './edge/workerd-config.js';

/**
 * What each piece of a signed forward costs in raw workerd, beside the bare pass-through Worker that
 * bench/edge.ts measures the edge against: the signing floor Worker (bench/edge/signing-floor-worker.js) run
 * with one step at a time, then with all of them (the signing floor itself), against a fixed-response
 * upstream at 50 callers. It prints each variant's workerd CPU per request and throughput, and what each step
 * adds to the bare Worker and to a plain forward (a header record and a streamed body): medians over many
 * rounds of short cells of differences taken within a round, because this machine drifts by a fifth over
 * minutes, more than most steps cost, and cells seconds apart drift together. It says where the
 * signing floor's cost over the bare Worker goes, which the edge's CPU profile cannot: most of it is spent in
 * workerd's native code, outside any JS function.
 *   npx tsx bench/edge-forward-steps.ts [--rounds 11] [--duration 1.5] [--warmup 0.5] [--connections 50] [--no-pin]
 * Like bench/edge.ts --pin, workerd runs on the last CPU and this load generator and the upstream on the first.
 */
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '11' },
    duration: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '0.5' },
    connections: { type: 'string', default: '50' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const ROUNDS = Math.max(1, Number(flags.rounds));
const CONNECTIONS = Number(flags.connections);

/** The variants, in the order printed: the bare Worker, then the floor Worker's STEPS. */
const VARIANTS: { label: string; steps?: string }[] = [
  { label: 'bare Worker (passes the request on)' },
  { label: 'plain forward (header record, body streamed)', steps: '' },
  { label: '+ timeout (AbortSignal per attempt)', steps: 'timeout' },
  { label: '+ answer rebuilt (passed headers only)', steps: 'rebuild' },
  { label: '+ signature (nonce, HMAC, 4 headers)', steps: 'sign' },
  { label: '+ body read whole', steps: 'buffer' },
  { label: '+ body read whole and hashed', steps: 'buffer,hash' },
  { label: 'header-signing floor (all but the body)', steps: 'sign,timeout,rebuild' },
  { label: 'signing floor (all of them)', steps: 'buffer,hash,sign,timeout,rebuild' },
];

interface Measured {
  rps: number;
  cpuMicrosPerRequest: number;
}

const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-forward-steps-'));
const running: Running[] = [];
const say = (line: string) => console.log(line);

async function main() {
  if (!flags['no-pin']) pinTree(process.pid, 0);
  const upstream = await startFixedUpstream();
  // One at a time: ports probed together could, once released, be handed out twice.
  const ports: number[] = [];
  for (const _ of VARIANTS) ports.push(await freePort());
  const workerd = await startProcess({
    name: 'workerd',
    command: WORKERD,
    args: ['serve', writeConfig(`http://127.0.0.1:${upstream.value}`, ports)],
    env: { PATH: process.env.PATH },
    ready: () => fetch(`http://127.0.0.1:${ports[0]}/ready`).then(() => true),
  });
  running.push(workerd);
  if (!flags['no-pin']) pinTree(workerd.pid, cpus().length - 1);

  const { body, headerLength } = classifierBody(8);
  const head = Buffer.from(
    'POST /v2/models/cls/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\n' +
      `inference-header-content-length: ${headerLength}\r\ncontent-length: ${body.byteLength}\r\n\r\n`,
    'latin1',
  );
  say(
    `forward steps in raw workerd, fixed upstream, c=${CONNECTIONS}, ${flags.duration} s per cell after ` +
      `${flags.warmup} s, ${ROUNDS} rounds (order reversed every other round); body ${body.byteLength} B`,
  );
  // One uncounted pass first: a Worker's first cell after workerd starts runs cold code, and the bare Worker,
  // measured first, would otherwise read slow in round 1.
  for (const port of ports) await measure(port, workerd.pid, [head, body]);
  const results = VARIANTS.map((): Measured[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const measured = await measure(ports[i] as number, workerd.pid, [head, body]);
      results[i]?.push(measured);
      say(
        `  round ${round + 1}  ${(VARIANTS[i]?.label ?? '').padEnd(46)} ${measured.rps.toFixed(0).padStart(6)} req/s ` +
          `${measured.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs/req`,
      );
    }
  }
  printSummary(results);
}

/** One cell: workerd's CPU over the measured window, per answered request. */
async function measure(port: number, pid: number, request: Buffer[]): Promise<Measured> {
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  const load = await runLoad({
    port,
    connections: CONNECTIONS,
    warmupMs: Number(flags.warmup) * 1000,
    durationMs: Number(flags.duration) * 1000,
    request: () => request,
    atWindowStart: async () => {
      cpuAtStart = processCpuMicros(pid);
    },
    atWindowEnd: async () => {
      cpuAtEnd = processCpuMicros(pid);
    },
  });
  if (load.failures > 0)
    throw new Error(`${load.failures} requests failed: ${load.failureSamples.join('; ')}`);
  return { rps: load.rps, cpuMicrosPerRequest: (cpuAtEnd - cpuAtStart) / load.ok };
}

function printSummary(results: Measured[][]) {
  const cpu = (i: number) => results[i]?.map((m) => m.cpuMicrosPerRequest) ?? [];
  // Differences within a round (cells seconds apart), so the machine's drift between rounds cancels out.
  const overRound = (i: number, base: number) =>
    median(cpu(i).map((micros, round) => micros - (cpu(base)[round] ?? 0)));
  const rpsRatio = (i: number) =>
    median((results[i] ?? []).map((m, round) => m.rps / (results[0]?.[round]?.rps ?? Number.NaN)));
  say('');
  say(`medians over ${ROUNDS} rounds (differences and ratios taken within each round):`);
  say(
    `  ${'variant'.padEnd(46)} ${'µs/req'.padStart(7)} ${'+ bare'.padStart(7)} ${'+ plain'.padStart(8)} ${'req/s ÷ bare'.padStart(13)}`,
  );
  VARIANTS.forEach((variant, i) => {
    const overPlain = variant.steps === undefined ? '' : signed(overRound(i, 1), 0);
    say(
      `  ${variant.label.padEnd(46)} ${median(cpu(i)).toFixed(0).padStart(7)} ${signed(overRound(i, 0), 0).padStart(7)} ` +
        `${overPlain.padStart(8)} ${rpsRatio(i).toFixed(2).padStart(13)}`,
    );
  });
}

/** The fixed-response upstream of bench/edge.ts, answering a classifier-sized binary OIP answer. */
async function startFixedUpstream(): Promise<Running> {
  const answer = Buffer.alloc(155, 7);
  const recorded = join(dir, 'fixed-response.json');
  writeFileSync(
    recorded,
    JSON.stringify({
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '123' },
      bodyBase64: answer.toString('base64'),
    }),
  );
  const upstream = await startProcess({
    name: 'fixed upstream',
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/edge/fixed-upstream.ts', recorded],
    env: { PATH: process.env.PATH },
    ready: /"msg":"listening","port":(\d+)/,
  });
  running.push(upstream);
  return upstream;
}

/** A workerd config: the bare Worker and one floor Worker per variant, each on its own port. */
function writeConfig(upstream: string, ports: number[]): string {
  for (const file of ['bare-worker.js', 'signing-floor-worker.js'])
    copyFileSync(join(REPO_ROOT, 'bench/edge', file), join(dir, file));
  const services = VARIANTS.map((variant, i) => {
    const module = variant.steps === undefined ? 'bare-worker.js' : 'signing-floor-worker.js';
    const steps =
      variant.steps === undefined
        ? ''
        : `, (name = "KEY", text = "${'f'.repeat(43)}"), (name = "STEPS", text = "${variant.steps}")`;
    return `    (name = "v${i}", worker = (
      modules = [(name = "${module}", esModule = embed "${module}")],
      compatibilityDate = "${COMPATIBILITY_DATE}",
      bindings = [(name = "UPSTREAM", text = "${upstream}")${steps}],
    )),`;
  });
  const sockets = ports.map(
    (port, i) => `    (name = "v${i}", address = "127.0.0.1:${port}", http = (), service = "v${i}"),`,
  );
  const path = join(dir, 'workerd.capnp');
  writeFileSync(
    path,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "internet", network = (allow = ["public", "local"])),
${services.join('\n')}
  ],
  sockets = [
${sockets.join('\n')}
  ],
);
`,
  );
  return path;
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of running.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  });
