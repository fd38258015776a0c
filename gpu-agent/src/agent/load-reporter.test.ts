import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentLoadReport, Tensor } from '@meridian/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamicBatcher } from '../onnx/batcher.js';
import { createModelSession, type ModelRunner, type ModelSession } from '../onnx/session.js';
import { writeMlp } from '../onnx/testing/mlp.js';
import { ApiClient } from './api-client.js';
import { LoadReporter, wholeLoad } from './load-reporter.js';
import { silentLogger } from './logger.js';

// A real onnxruntime session behind a real batcher; a scripted stand-in for the control plane's
// POST /agent/v1/load (the real route is exercised end to end in test/autoscaling-e2e.test.ts).
let dir: string;
let mlp: ModelSession;
let server: Server;
let api: ApiClient;
const received: AgentLoadReport[] = [];
let status = 204;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-reporter-'));
  mlp = await createModelSession(
    await writeMlp(join(dir, 'mlp.onnx'), { inputs: 4, hidden: 8, outputs: 2 }),
    {
      executionProviders: ['cpu'],
    },
  );
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    req.on('end', () => {
      if (req.url === '/agent/v1/load' && status === 204) received.push(JSON.parse(text) as AgentLoadReport);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  api = new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, credential: 'agent-credential' });
});

afterAll(async () => {
  await mlp.release();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received.length = 0;
  status = 204;
});

const row = (seed: number): Tensor[] => [
  { name: 'x', datatype: 'FP32', shape: [1, 4], data: Float32Array.from({ length: 4 }, (_, i) => seed + i) },
];

/** The session, with runs that wait for `open()`: holds the replica busy for as long as a test needs. */
function gated(runner: ModelRunner): ModelRunner & { open(): void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { signature: runner.signature, open: () => release(), run: (i) => gate.then(() => runner.run(i)) };
}

const options = { model: 'm', maxBatchSize: 1, maxQueueDelayUs: 0, maxQueueSize: 64, timeoutMs: 5_000 };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('wholeLoad', () => {
  it('counts any load at all as at least one request, and rounds larger averages', () => {
    expect([0, 0.0004, 0.5, 1.4, 1.6, 31.5].map(wholeLoad)).toEqual([0, 1, 1, 1, 2, 32]);
  });
});

describe('LoadReporter', () => {
  it("reports a busy replica's requests computing and queued, averaged over the interval", async () => {
    const runner = gated(mlp);
    const batcher = new DynamicBatcher(runner, { ...options, maxConcurrentRuns: 2 });
    const reporter = new LoadReporter(() => [{ workloadId: 'wl_1', load: batcher.load() }], silentLogger);
    reporter.measure();
    const calls = Array.from({ length: 6 }, (_, i) => batcher.infer(row(i)));
    await pause(200);

    const busy = reporter.measure();
    runner.open();
    await Promise.all(calls);
    await pause(50);
    reporter.measure();
    await pause(50);
    const idle = reporter.measure();

    // Two runs of one request each compute; four wait behind them, for (nearly) the whole interval.
    expect(busy.replicas).toEqual([{ workloadId: 'wl_1', inFlight: 2, queued: 4 }]);
    expect(idle.replicas).toEqual([{ workloadId: 'wl_1', inFlight: 0, queued: 0 }]);
  });

  it('counts a call of well under a millisecond, between two reports, as load', async () => {
    const batcher = new DynamicBatcher(mlp, options);
    const reporter = new LoadReporter(() => [{ workloadId: 'wl_1', load: batcher.load() }], silentLogger);
    reporter.measure();
    await batcher.infer(row(1));
    await pause(100);

    expect(reporter.measure().replicas).toEqual([{ workloadId: 'wl_1', inFlight: 1, queued: 0 }]);
  });

  it('sends while busy, once more when idle again, then nothing while idle', async () => {
    const runner = gated(mlp);
    const batcher = new DynamicBatcher(runner, options);
    const reporter = new LoadReporter(() => [{ workloadId: 'wl_1', load: batcher.load() }], silentLogger);
    const call = batcher.infer(row(1));

    await pause(20);
    expect(await reporter.tick(api)).toBe(true);
    await pause(20);
    expect(await reporter.tick(api)).toBe(true);
    runner.open();
    await call;
    await reporter.tick(api);
    await pause(20);
    expect(await reporter.tick(api)).toBe(true);
    await pause(20);
    expect(await reporter.tick(api)).toBe(false);

    expect(received.map((r) => r.replicas[0]?.inFlight)).toEqual([1, 1, 1, 0]);
    for (const r of received) expect(r.sentAt).toBeGreaterThan(Date.now() - 10_000);
  });

  it('reports a new replica at once, and sends again after a report the control plane refused', async () => {
    const replicas: { workloadId: string; load: ReturnType<DynamicBatcher['load']> }[] = [];
    const batcher = new DynamicBatcher(mlp, options);
    const reporter = new LoadReporter(() => replicas, silentLogger);
    expect(await reporter.tick(api)).toBe(true);
    expect(await reporter.tick(api)).toBe(false);

    replicas.push({ workloadId: 'wl_2', load: batcher.load() });
    status = 503;
    expect(await reporter.tick(api)).toBe(false);
    status = 204;
    expect(await reporter.tick(api)).toBe(true);

    expect(received.map((r) => r.replicas)).toEqual([[], [{ workloadId: 'wl_2', inFlight: 0, queued: 0 }]]);
  });
});
