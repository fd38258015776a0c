import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { S3ObjectStore } from '../control-plane/src/storage/s3-store.js';

/**
 * How fast does a model upload go through the control plane (a separate process, streaming into S3 while
 * hashing) next to lib-storage's Upload straight to the same S3 server with the same part size and
 * concurrency? Target: (b)/(a) ≥ 0.7. Also prints the control plane's peak RSS during its uploads.
 *
 *   npx tsx bench/model-upload.ts [--size-mb 100] [--runs 5]
 *
 * The S3 server is Swift's s3api on loopback (scripts/s3-server.sh). Without Swift the control plane falls
 * back to its filesystem store, which the output says; the ratio is then not S3 against S3.
 */
const TARGET_RATIO = 0.7;
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const S3_SCRIPT = join(REPO_ROOT, 'scripts/s3-server.sh');
const CREDENTIALS = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };
const run = promisify(execFile);

const { values: flags } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: process.env.BENCH_UPLOAD_MB ?? '100' },
    runs: { type: 'string', default: process.env.BENCH_UPLOAD_RUNS ?? '5' },
  },
});
const sizeBytes = Math.round(Number(flags['size-mb']) * 1024 * 1024);
const runs = Math.max(1, Math.round(Number(flags.runs)));
if (!(sizeBytes > 0)) throw new Error(`--size-mb must be positive, got ${flags['size-mb']}`);

/** One random MiB, repeated: the source costs next to nothing, so the timings are the uploads'. */
const PATTERN = randomBytes(1024 * 1024);
function* chunks(total: number) {
  for (let sent = 0; sent < total; sent += 64 * 1024) {
    const offset = sent % PATTERN.length;
    yield PATTERN.subarray(offset, offset + Math.min(64 * 1024, total - sent));
  }
}

/**
 * Streams `total` bytes as a POST body with node:http, as curl would: the client shares the two cores with
 * the control plane and Swift, and fetch with a web stream body costs the client several times more CPU.
 */
function postStream(url: string, headers: Record<string, string>, total: number) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(total) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    Readable.from(chunks(total)).pipe(req);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

async function startS3(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(S3_SCRIPT, ['start', dir, 'auto'], { timeout: 60_000 });
    return /S3_ENDPOINT=(\S+)/.exec(stdout)?.[1];
  } catch (error) {
    console.log(
      `Swift s3api did not start (${error instanceof Error ? error.message.split('\n')[0] : error})`,
    );
    return undefined;
  }
}

async function startControlPlane(dataDir: string, s3: Record<string, string>) {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'control-plane/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_PORT: String(port),
      MERIDIAN_LOG_LEVEL: 'warn',
      ...s3,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`control plane exited with ${child.exitCode}`);
    const healthy = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('control plane has no pid');
  const stop = async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  };
  return { url, pid, stop };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const mibPerSecond = (bytes: number, ms: number) => bytes / 2 ** 20 / (ms / 1000);

const workDir = await mkdtemp(join(tmpdir(), 'meridian-bench-upload-'));
const endpoint = await startS3(join(workDir, 's3'));
const bucket = `bench-${randomBytes(4).toString('hex')}`;
const s3Env: Record<string, string> = endpoint
  ? {
      MERIDIAN_S3_ENDPOINT: endpoint,
      MERIDIAN_S3_BUCKET: bucket,
      MERIDIAN_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      MERIDIAN_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      MERIDIAN_S3_FORCE_PATH_STYLE: 'true',
    }
  : {};
const client = endpoint
  ? new S3Client({
      endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
  : undefined;
if (endpoint) {
  const store = new S3ObjectStore({
    endpoint,
    region: 'us-east-1',
    bucket,
    credentials: CREDENTIALS,
    forcePathStyle: true,
  });
  await store.ensureBucket();
  store.close();
}
const cp = await startControlPlane(join(workDir, 'cp'), s3Env);

try {
  const json = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${cp.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, string>;
  };
  const { accessToken = '' } = await json('/v1/auth/register', {
    email: 'bench@example.com',
    password: 'correct horse battery',
    name: 'bench',
  });
  const { id: modelId = '' } = await json('/v1/models', { name: 'bench-model' }, accessToken);

  const throughControlPlane = async (bytes: number) => {
    const started = performance.now();
    const res = await postStream(
      `${cp.url}/v1/models/${modelId}/versions?filename=bench.pt`,
      { authorization: `Bearer ${accessToken}`, 'content-type': 'application/octet-stream' },
      bytes,
    );
    if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${res.body}`);
    return performance.now() - started;
  };
  const direct = async (bytes: number) => {
    if (!client) return Number.NaN;
    const started = performance.now();
    const upload = new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: `direct/${randomBytes(8).toString('hex')}`,
        Body: Readable.from(chunks(bytes)),
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    });
    await upload.done();
    return performance.now() - started;
  };

  await throughControlPlane(PART_SIZE * 2); // warm-up: JIT, connections, bucket
  await direct(PART_SIZE * 2);
  const baseline = rssBytes(cp.pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(cp.pid));
  }, 20);
  const directMs: number[] = [];
  const cpMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate the order so neither side always runs on a warmer server.
    if (i % 2 === 0) {
      directMs.push(await direct(sizeBytes));
      cpMs.push(await throughControlPlane(sizeBytes));
    } else {
      cpMs.push(await throughControlPlane(sizeBytes));
      directMs.push(await direct(sizeBytes));
    }
  }
  clearInterval(sampler);

  const mb = (sizeBytes / 2 ** 20).toFixed(0);
  const target = endpoint ? `S3 (Swift s3api at ${endpoint})` : 'the filesystem store (Swift unavailable)';
  console.log(`model upload: ${mb} MiB × ${runs} runs, median; control plane writes to ${target}`);
  const a = mibPerSecond(sizeBytes, median(directMs));
  const b = mibPerSecond(sizeBytes, median(cpMs));
  if (client) console.log(`(a) lib-storage Upload direct to S3       ${a.toFixed(0).padStart(6)} MiB/s`);
  console.log(`(b) POST /v1/models/{id}/versions (.pt)  ${b.toFixed(0).padStart(6)} MiB/s`);
  if (client) {
    const ratio = b / a;
    console.log(
      `ratio (b)/(a): ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})`,
    );
  }
  console.log(
    `control plane RSS: ${(baseline / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB ` +
      `during the uploads (+${((peak - baseline) / 2 ** 20).toFixed(0)} MiB for ${mb} MiB files)`,
  );
} finally {
  await cp.stop();
  client?.destroy();
  if (endpoint) await run(S3_SCRIPT, ['stop', join(workDir, 's3')]);
  await rm(workDir, { recursive: true, force: true });
}
