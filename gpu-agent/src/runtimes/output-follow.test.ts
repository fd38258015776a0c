import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_LIMITS, WorkloadLogs } from '../agent/workload-logs.js';
import { ProcessRuntime } from './process-runtime.js';
import { WorkloadDirs } from './workload-dirs.js';

// A real isolated child process (the process runtime, as root) printing 100 MB as fast as Python writes it,
// followed by the agent's WorkloadLogs in this process: what the agent holds stays within its bound.
const FLOOD = `
import sys, time
line = ('x' * 90 + '\\n').encode()
block = line * 10_000  # 910 KB
for i in range(110):   # 100 MB
    sys.stdout.buffer.write(block)
    sys.stdout.flush()
sys.stdout.write('flood done\\n')
sys.stdout.flush()
time.sleep(600)
`;

let root = '';
let runtime: ProcessRuntime;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'meridian-flood-'));
  chmodSync(root, 0o711);
  runtime = new ProcessRuntime({
    dataDir: join(root, 'agent'),
    agentId: 'agt_flood',
    workloads: new WorkloadDirs(join(root, 'workloads')),
  });
});

afterAll(async () => {
  await runtime?.remove('dep_flood');
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('the output of a process that prints 100 MB', () => {
  it('is followed within the agent’s memory bound, and its file on disk is emptied as it is read', async () => {
    const logs = new WorkloadLogs(join(root, 'agent', 'workload-logs'));
    const rss = () => process.memoryUsage().rss;
    globalThis.gc?.();
    const before = rss();
    await runtime.start({
      workloadId: 'dep_flood',
      kind: 'model-server',
      command: ['/usr/bin/python3', '-c', FLOOD],
      env: {},
      gpus: { count: 0, deviceIds: [] },
      port: 8080,
      labels: {},
    });
    const follower = await runtime.followOutput('dep_flood', {
      writer: (stream) => logs.writer('dep_flood', stream),
    });
    const onDisk = () => {
      const raw = statSync(join(root, 'agent', 'logs', 'dep_flood.log'));
      return Math.min(raw.size, raw.blocks * 512);
    };
    let peakDisk = 0;
    let peakRss = before;
    let peakHeld = 0;
    const deadline = Date.now() + 90_000;
    let done = false;
    while (!done && Date.now() < deadline) {
      await sleep(100);
      peakRss = Math.max(peakRss, rss());
      peakHeld = Math.max(peakHeld, logs.bytesHeld('dep_flood'));
      peakDisk = Math.max(peakDisk, onDisk());
      done = logs.read('dep_flood', { tail: 5 }).some((l) => l.line === 'flood done');
    }
    // Caught up, the follower empties the workload's file on its next read.
    let rawFile = onDisk();
    for (let i = 0; i < 50 && rawFile > 1024 * 1024; i++) {
      await sleep(100);
      rawFile = onDisk();
    }
    follower?.stop();
    logs.close();
    console.info(
      `100 MB flood: lines held peak ${(peakHeld / 1024).toFixed(0)} KiB (bound ${DEFAULT_LOG_LIMITS.maxBytes / 1024} KiB), ` +
        `RSS ${(before / 2 ** 20).toFixed(0)} → peak ${(peakRss / 2 ** 20).toFixed(0)} MiB, ` +
        `workload's file on disk peak ${(peakDisk / 2 ** 20).toFixed(1)} MiB, after ${rawFile} B`,
    );
    expect(done, 'the last line arrived').toBe(true);
    expect(peakHeld).toBeLessThanOrEqual(DEFAULT_LOG_LIMITS.maxBytes);
    // The ring (1 MiB), one 256 KiB read buffer, one write batch and the garbage of parsing them; never the 100 MB.
    expect(peakRss - before).toBeLessThan(64 * 2 ** 20);
    expect(rawFile).toBeLessThanOrEqual(1024 * 1024);
    const lines = logs.read('dep_flood', { tail: 10_000 });
    expect(lines.at(-1)?.seq).toBeGreaterThan(1_000);
  }, 120_000);
});
