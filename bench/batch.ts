import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTenant, deployClassifier, startPlatform } from './edge/platform.js';
import { freePort, startProcess } from './edge/processes.js';

// Batch jobs beside real-time traffic (issue 16): the real-time p99 through the edge at a steady rate without
// and with a job running on the same replica (target: within 1.5×), and the job's throughput in lines per
// second beside the same lines sent through the edge by a client loop at the same concurrency.
//
//   npx tsx bench/batch.ts [--rate 8] [--duration 20] [--lines 400] [--concurrency 2]
//
// The rate must be one the edge sustains on the machine (an open loop past it measures its queue, not the
// job's effect): on 2 shared cores under load, single digits per second.

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '8' },
    duration: { type: 'string', default: '20' },
    lines: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '2' },
  },
});
const RATE = Number(values.rate);
const DURATION_MS = Number(values.duration) * 1000;
const LINES = Number(values.lines);
const CONCURRENCY = Number(values.concurrency);
const SHAPE = [1, 3, 48, 8];
const say = (line: string) => console.log(line);

const inputOf = (i: number) => Array.from({ length: 3 * 48 * 8 }, (_, j) => ((i * 31 + j * 7) % 17) - 8);
const oipBody = (i: number) =>
  JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: inputOf(i) }] });

const keepAlive = new Agent({ keepAlive: true, maxSockets: 256 });
function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: keepAlive,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - start }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Real-time calls at a fixed rate (open loop: a slow answer does not delay the next call). */
async function steadyLoad(edgeInfer: URL, apiKey: string, ms: number) {
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let n = 0; performance.now() - start < ms; n++) {
    const due = start + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(edgeInfer, { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, oipBody(n))
        .then((r) => {
          if (r.status === 200) latencies.push(r.ms);
          else failed += 1;
        })
        .catch(() => {
          failed += 1;
        }),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { calls: latencies.length, failed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

function jsonl(name: string, lines: number, offset: number) {
  return Array.from({ length: lines }, (_, i) =>
    JSON.stringify({
      custom_id: `c-${offset + i}`,
      method: 'POST',
      url: `/v2/models/${name}/infer`,
      body: JSON.parse(oipBody(offset + i)),
    }),
  ).join('\n');
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-batch-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const platform = await startPlatform(dir);
    cleanups.push(() => platform.stop());
    const tenant = await createTenant(platform, []);
    await deployClassifier(platform, tenant.token, 'cls');
    const edgePort = await freePort();
    const edge = await startProcess({
      name: 'edge (Miniflare, scripts/edge.mjs)',
      command: process.execPath,
      args: ['scripts/edge.mjs'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MERIDIAN_DATA_DIR: platform.cpDataDir,
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(edgePort),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: platform.cpUrl,
      },
      ready: /"msg":"edge listening","url":"([^"]+)"/,
      timeoutMs: 90_000,
    });
    cleanups.unshift(() => edge.stop());
    const edgeInfer = new URL(`http://127.0.0.1:${edgePort}/v2/models/cls/infer`);
    const api = async (method: string, path: string, body?: string, contentType = 'application/json') => {
      const res = await fetch(`${platform.cpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': contentType },
        ...(body === undefined ? {} : { body }),
      });
      return (await res.json()) as Record<string, unknown> & { id: string; status: string };
    };
    const startJob = async (lines: number, offset: number) => {
      const file = await api(
        'POST',
        '/v1/files?filename=bench.jsonl',
        jsonl('cls', lines, offset),
        'application/octet-stream',
      );
      return api(
        'POST',
        '/v1/batch-jobs',
        JSON.stringify({ deployment: 'cls', inputFileId: file.id, maxConcurrency: CONCURRENCY }),
      );
    };
    const jobOf = (id: string) =>
      api('GET', `/v1/batch-jobs/${id}`) as unknown as Promise<
        Record<string, unknown> & {
          status: string;
          counts: { completed: number };
          startedAt: string | null;
          endedAt: string | null;
        }
      >;
    const waitEnd = async (id: string) => {
      for (;;) {
        const job = await jobOf(id);
        if (['completed', 'failed', 'cancelled', 'expired'].includes(job.status)) return job;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    say(
      `batch bench: PaddleOCR classifier 1×3×48×8 (OIP JSON), one CPU replica; real-time ${RATE} calls/s through the edge (Miniflare, as npm start runs it) for ${DURATION_MS / 1000} s; job concurrency ${CONCURRENCY}`,
    );
    // Warm-up: the model, the edge's caches and the key.
    await steadyLoad(edgeInfer, tenant.apiKey, 8000);

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const alone = await steadyLoad(edgeInfer, tenant.apiKey, DURATION_MS);
    // A job big enough to outlast the window, cancelled once the window ends.
    const job = await startJob(LINES * 3, 1_000_000);
    for (;;) {
      const j = await jobOf(job.id);
      if (j.status === 'running' && j.counts.completed > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = (await jobOf(job.id)).counts.completed;
    const withJobStart = performance.now();
    const withJob = await steadyLoad(edgeInfer, tenant.apiKey, DURATION_MS);
    const during = (await jobOf(job.id)).counts.completed - before;
    const withJobSeconds = (performance.now() - withJobStart) / 1000;
    await api('POST', `/v1/batch-jobs/${job.id}/cancel`);
    await waitEnd(job.id);
    // Alone again: the machine's load drifts, so the reference is measured on both sides of the job.
    const aloneAfter = await steadyLoad(edgeInfer, tenant.apiKey, DURATION_MS);
    const cpu = process.cpuUsage(cpu0);
    const loadCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    say('');
    say('| real-time calls | calls | failed | p50 ms | p99 ms |');
    say('|---|---|---|---|---|');
    const row = (label: string, r: typeof alone) =>
      say(`| ${label} | ${r.calls} | ${r.failed} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
    row('alone (before)', alone);
    row('with a batch job running', withJob);
    row('alone (after)', aloneAfter);
    const ratio = withJob.p99 / ((alone.p99 + aloneAfter.p99) / 2);
    say(
      `p99 with / without (mean of before and after): ${ratio.toFixed(2)} (target ≤ 1.5: ${ratio <= 1.5 ? 'PASS' : 'FAIL'}); the job answered ${during} lines meanwhile (${(during / withJobSeconds).toFixed(0)} lines/s)`,
    );
    say(`load generator CPU share: ${(loadCpu * 100).toFixed(0)}% of one core`);

    // Throughput: the same lines as a batch job and as a client loop through the edge, same concurrency.
    const batchJob = await startJob(LINES, 0);
    const ended = await waitEnd(batchJob.id);
    const batchSeconds = (Date.parse(String(ended.endedAt)) - Date.parse(String(ended.createdAt))) / 1000;
    let next = 0;
    let ok = 0;
    const loopStart = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < LINES) {
          const i = next++;
          for (let attempt = 0; attempt < 5; attempt++) {
            const r = await post(
              edgeInfer,
              { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
              oipBody(i),
            );
            if (r.status === 200) {
              ok += 1;
              break;
            }
          }
        }
      }),
    );
    const loopSeconds = (performance.now() - loopStart) / 1000;
    say('');
    say(`| ${LINES} lines, concurrency ${CONCURRENCY} | seconds | lines/s |`);
    say('|---|---|---|');
    say(
      `| batch job (created → ended, validation and files included) | ${batchSeconds.toFixed(1)} | ${(LINES / batchSeconds).toFixed(0)} |`,
    );
    say(
      `| client loop through the edge (${ok} answered) | ${loopSeconds.toFixed(1)} | ${(ok / loopSeconds).toFixed(0)} |`,
    );
    say(`batch / client loop: ${(loopSeconds / batchSeconds).toFixed(2)}`);
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
