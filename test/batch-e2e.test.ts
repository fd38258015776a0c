import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from './helpers/agent-process.js';
import { batchLines, referenceScores, scoresOf } from './helpers/batch-lines.js';
import { type LoggedProcess, startLoggedProcess } from './helpers/logged-process.js';
import { deployClassifier, issueBootstrapToken, jsonApi } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningS3, startS3 } from './helpers/s3-server.js';
import { waitUntil } from './helpers/wait.js';

const LINES = 10_000;
const BAD = new Set(Array.from({ length: 20 }, (_, k) => 250 + 500 * k));
const MAX_FILE_BYTES = 48 * 1024 * 1024;

type Job = {
  id: string;
  status: string;
  counts: { total: number; completed: number; failed: number };
  error: { code: string; message: string; faults?: { line: number; message: string }[] } | null;
  costUsd: string;
};
type ResultLine = {
  custom_id: string | null;
  line: number;
  response: { status_code: number; body: { outputs: unknown } } | null;
  error: { code: string; message: string } | null;
};

/**
 * Batch jobs end to end on the real control plane (as a process, on a libsql file), a real agent serving the
 * PaddleOCR classifier with onnxruntime, and a real S3 server (Swift) holding the files: results checked
 * against onnxruntime line by line, the ledger counted, a kill -9 of the control plane mid-job, a cancel,
 * and the refusals of bad input.
 */
describe('batch jobs', () => {
  let dir = '';
  let s3: RunningS3 | undefined;
  let cp: (LoggedProcess & { url: string; port: number }) | undefined;
  let agent: RunningAgent | undefined;
  let db: Client;
  let cpEnv: Record<string, string> = {};
  let agentMetrics = '';
  let token = '';
  let orgId = '';
  const api = jsonApi(() => cp?.url ?? '');

  const upload = async (text: string | ReadableStream<Uint8Array>, as = token) => {
    const res = await fetch(`${cp?.url}/v1/files?filename=in.jsonl`, {
      method: 'POST',
      headers: { authorization: `Bearer ${as}`, 'content-type': 'application/octet-stream' },
      body: text,
      duplex: 'half',
    } as RequestInit);
    return { status: res.status, json: (await res.json()) as { id: string; error?: { code: string } } };
  };
  const createJob = (body: Record<string, unknown>, as = token) => api(as, 'POST', '/v1/batch-jobs', body);
  const job = async (id: string) => (await api(token, 'GET', `/v1/batch-jobs/${id}`)).json as Job;
  const ended = (id: string, timeoutMs = 1_500_000) =>
    waitUntil(
      () => job(id),
      (j) => ['completed', 'failed', 'cancelled', 'expired'].includes(j.status),
      { timeoutMs, intervalMs: 500, what: `job ${id} ended` },
    );
  const download = async (id: string) => {
    const urls = await api(token, 'GET', `/v1/batch-jobs/${id}/download-urls?expiresIn=300`);
    expect(urls.status).toBe(200);
    const read = async (url: string | null) =>
      url === null
        ? []
        : (await (await fetch(url)).text())
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as ResultLine);
    return { output: await read(urls.json.output), errors: await read(urls.json.errors) };
  };
  /** Calls billed for the deployment in the ledger, as GET /v1/billing/usage reports them. */
  const billedCalls = async () => {
    const res = await api(token, 'GET', '/v1/billing/usage?groupBy=deployment');
    const lines = res.json.lines as { meter: string; rawQuantity: number }[];
    return lines.filter((l) => l.meter === 'inference_calls').reduce((n, l) => n + l.rawQuantity, 0);
  };
  const billedForJob = async (jobId: string) =>
    Number(
      (
        await db.execute({
          sql: 'select coalesce(sum(calls), 0) as n from edge_usage where batch_id like ?',
          args: [`batch:${jobId}:%`],
        })
      ).rows[0]?.n,
    );

  /** The control plane as a process on the test's data dir; tsx may take a minute to start it on a loaded machine. */
  const startCp = async (port?: number) => {
    const listen = port ?? (await freePort());
    const child = await startLoggedProcess({
      name: 'control plane',
      args: ['--import', 'tsx', 'control-plane/src/main.ts'],
      env: {
        ...cpEnv,
        MERIDIAN_DATA_DIR: join(dir, 'cp'),
        MERIDIAN_PORT: String(listen),
        MERIDIAN_LOG_LEVEL: 'info',
      },
      ready: /"msg":"control plane listening","url":"([^"]+)"/,
      timeoutMs: 180_000,
    });
    return { ...child, url: `http://127.0.0.1:${listen}`, port: listen };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batch-e2e-'));
    // Swift starts slowly on a loaded two-core machine (its own readiness loop is bounded).
    s3 = await startS3({ timeoutMs: 240_000 });
    cpEnv = {
      ...s3.env,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '60',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      MERIDIAN_MAX_FILE_BYTES: String(MAX_FILE_BYTES),
    };
    cp = await startCp();
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    agentMetrics = `127.0.0.1:${await freePort()}`;
    const agentProcess = await startLoggedProcess({
      name: 'agent',
      args: ['--import', 'tsx', 'gpu-agent/src/main.ts'],
      ready: /"msg":"agent running","agentId":"([^"]+)"/,
      timeoutMs: 180_000,
      env: {
        MERIDIAN_AGENT_CONTROL_PLANE_URL: cp.url,
        MERIDIAN_AGENT_BOOTSTRAP_TOKEN: await issueBootstrapToken(cp.url, join(dir, 'cp')),
        MERIDIAN_AGENT_DATA_DIR: join(dir, 'agent'),
        MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
        MERIDIAN_AGENT_NVIDIA_SMI: join(dir, 'no-nvidia-smi'),
        MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
        MERIDIAN_AGENT_METRICS_LISTEN: agentMetrics,
        // The agent reports its journal every second: batch lines it journals must not be billed again.
        MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '1000',
        PATH: process.env.PATH ?? '/usr/bin:/bin',
      },
    });
    agent = {
      agentId: agentProcess.value,
      stop: agentProcess.stop,
      kill: agentProcess.kill,
      logs: agentProcess.logs,
    };
    const reg = await api('', 'POST', '/v1/auth/register', {
      email: `batch-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'batch',
    });
    orgId = reg.json.org.id;
    // An API key, as a script running a long job would hold: an access token expires within the 10,000-line job.
    const key = await api(reg.json.accessToken, 'POST', '/v1/api-keys', { name: 'batch', scopes: ['admin'] });
    expect(key.status).toBe(201);
    token = key.json.secret;
    const operator = (await readFile(join(dir, 'cp', 'operator-token'), 'utf8')).trim();
    const plan = await api(operator, 'PUT', `/internal/v1/orgs/${orgId}/standing`, { plan: 'pro' });
    expect(plan.status).toBe(200);
    await deployClassifier(api, cp.url, reg.json.accessToken, 'ocr');
  }, 900_000);

  afterAll(async () => {
    db?.close();
    await cp?.stop();
    await agent?.stop();
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('answers 9,980 of 10,000 lines as onnxruntime does, lists the 20 bad ones by line, and bills 9,980 calls', async () => {
    const { text, faults } = batchLines('ocr', LINES, BAD);
    const file = await upload(text);
    expect(file.status).toBe(201);
    // A job nobody waits on in real time may ask for more lines in flight than the default 2; the agent
    // batches them, so the 10,000 lines take well under a minute here instead of one and a half.
    const created = await createJob({ deployment: 'ocr', inputFileId: file.json.id, maxConcurrency: 8 });
    expect(created.status).toBe(201);
    expect(created.json.status).toBe('validating');
    const started = Date.now();
    const done = await ended(created.json.id);
    console.info(`${LINES} lines at 8 in flight: ${Date.now() - started} ms`);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.counts).toEqual({ total: LINES, completed: LINES - BAD.size, failed: BAD.size });
    expect(done.costUsd).toBe('9.980');

    const { output, errors } = await download(created.json.id);
    expect(output).toHaveLength(LINES - BAD.size);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(LINES - BAD.size);
    const indices = output.map((l) => Number(l.custom_id?.slice(4)));
    const reference = await referenceScores(indices);
    for (const line of output) {
      const i = Number(line.custom_id?.slice(4));
      expect(line.line).toBe(i + 1);
      const got = scoresOf(line.response as { body: { outputs: unknown } });
      const want = reference.get(i) ?? [];
      expect(got).toHaveLength(want.length);
      for (const [k, v] of got.entries()) expect(Math.abs(v - (want[k] ?? Number.NaN))).toBeLessThan(1e-4);
    }
    expect(errors).toHaveLength(BAD.size);
    for (const line of errors) {
      const i = line.line - 1;
      const fault = faults.get(i);
      expect(fault, `line ${line.line}`).toBeDefined();
      expect(line.error?.message).toContain(fault?.expect);
      expect(line.custom_id).toBe(fault?.kind === 'json' ? null : `req-${i}`);
    }
    // The agent's own reports arrive every second: they must not add the batch lines again.
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(LINES - BAD.size);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(await billedCalls()).toBe(LINES - BAD.size);
  }, 1_800_000);

  it('resumes after kill -9 of the control plane: each custom_id once in the output, each line billed once', async () => {
    const lines = 3_000;
    const file = await upload(batchLines('ocr', lines).text);
    const before = await billedCalls();
    const created = await createJob({ deployment: 'ocr', inputFileId: file.json.id, maxConcurrency: 2 });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    await waitUntil(
      () => job(id),
      (j) => j.counts.completed >= 600,
      { timeoutMs: 300_000, what: 'a fifth done' },
    );
    const port = cp?.port;
    await cp?.kill();
    const atKill = await billedForJob(id);
    expect(atKill).toBeLessThan(lines);
    cp = await startCp(port);
    const done = await ended(id);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({ total: lines, completed: lines, failed: 0 });
    const { output, errors } = await download(id);
    expect(errors).toEqual([]);
    expect(output).toHaveLength(lines);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(lines);
    expect(await billedForJob(id)).toBe(lines);
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(before + lines);
    console.log(`kill -9 at ${atKill} of ${lines} lines billed; after restart ${lines} billed once each`);
  }, 1_800_000);

  it('stops new work within a second of a cancel, with the partial output downloadable', async () => {
    const file = await upload(batchLines('ocr', 2_000).text);
    const created = await createJob({ deployment: 'ocr', inputFileId: file.json.id, maxConcurrency: 1 });
    const id = created.json.id as string;
    await waitUntil(
      () => job(id),
      (j) => j.counts.completed >= 100,
      { timeoutMs: 300_000, what: 'started' },
    );
    const cancelled = await api(token, 'POST', `/v1/batch-jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    const callsAtCancel = await agentCalls();
    await new Promise((r) => setTimeout(r, 1_000));
    const callsAfterASecond = await agentCalls();
    const done = await ended(id, 60_000);
    expect(done.status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 2_000));
    // No line started after the first second: the agent answered nothing more (one line was in flight at most).
    expect(await agentCalls()).toBe(callsAfterASecond);
    expect(callsAfterASecond - callsAtCancel).toBeLessThanOrEqual(1);
    const { output } = await download(id);
    expect(output.length).toBe(done.counts.completed);
    expect(output.length).toBeGreaterThanOrEqual(100);
    expect(output.length).toBeLessThan(2_000);
    expect(await billedForJob(id)).toBe(output.length);
  }, 600_000);

  /** Infer calls the agent has answered so far (its Prometheus counter, over every model). */
  async function agentCalls(): Promise<number> {
    const text = await (await fetch(`http://${agentMetrics}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('nv_inference_request_success'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  }

  it('fails an empty file, a file that is not JSONL and one with duplicate custom_ids at validation', async () => {
    const run = async (text: string) => {
      const file = await upload(text);
      expect(file.status).toBe(201);
      const created = await createJob({ deployment: 'ocr', inputFileId: file.json.id });
      return ended(created.json.id, 120_000);
    };
    const empty = await run('');
    expect(empty).toMatchObject({ status: 'failed', error: { code: 'empty_file' } });
    const csv = await run('a,b,c\n1,2,3\n4,5,6\n');
    expect(csv).toMatchObject({ status: 'failed', error: { code: 'no_valid_line' } });
    expect(csv.error?.faults?.map((f) => f.line)).toEqual([1, 2, 3]);
    const lines = batchLines('ocr', 4).text.split('\n');
    const dup = await run([lines[0], lines[1], lines[0], lines[2]].join('\n'));
    expect(dup).toMatchObject({ status: 'failed', error: { code: 'duplicate_custom_id' } });
    expect(dup.error?.faults?.[0]).toMatchObject({
      line: 3,
      message: expect.stringContaining('repeats line 1'),
    });
  }, 300_000);

  // Memory while a 413 streams is measured in model-upload-memory.test.ts, with a limit far above S3's buffers.
  it('answers 413 while a file over the limit streams, and keeps nothing', async () => {
    const filesBefore = (await api(token, 'GET', '/v1/files?limit=100')).json.items.length;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= MAX_FILE_BYTES * 2) return controller.close();
        sent += 1024 * 1024;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
      },
    });
    const res = await upload(body).catch((err: unknown) => ({
      status: 0,
      json: { id: '', error: { code: String(err) } },
    }));
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(MAX_FILE_BYTES * 2);
    expect((await api(token, 'GET', '/v1/files?limit=100')).json.items).toHaveLength(filesBefore);
  }, 120_000);

  it("answers 404 for another org's deployment or file and 403 for a key without the predict scope", async () => {
    const other = await api('', 'POST', '/v1/auth/register', {
      email: `other-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'other',
    });
    const mine = await upload(batchLines('ocr', 2).text);
    const theirs = await upload(batchLines('ocr', 2).text, other.json.accessToken);
    const theirJob = await createJob(
      { deployment: 'ocr', inputFileId: mine.json.id },
      other.json.accessToken,
    );
    expect(theirJob.status).toBe(404);
    expect((await createJob({ deployment: 'ocr', inputFileId: theirs.json.id })).status).toBe(404);
    const narrow = await api(token, 'POST', '/v1/api-keys', {
      name: 'other model',
      scopes: ['predict:elsewhere'],
    });
    const refused = await createJob({ deployment: 'ocr', inputFileId: mine.json.id }, narrow.json.secret);
    expect(refused.status).toBe(403);
    const scoped = await api(token, 'POST', '/v1/api-keys', { name: 'ocr only', scopes: ['predict:ocr'] });
    const ok = await createJob({ deployment: 'ocr', inputFileId: mine.json.id }, scoped.json.secret);
    expect(ok.status).toBe(201);
    expect((await ended(ok.json.id, 120_000)).status).toBe('completed');
  }, 300_000);
});
