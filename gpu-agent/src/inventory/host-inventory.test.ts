import { chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectHostInventory, measureDisk } from './host-inventory.js';
import { probeGpus } from './probe-gpus.js';

// This machine has no NVIDIA driver. fixtures/fake-nvidia-smi.sh stands in for nvidia-smi: it checks it was
// called with the agent's exact query and prints a recorded sample (FAKE_NVIDIA_SMI_SAMPLE), so the real
// execFile path — arguments, exit codes, timeouts — runs; only the driver behind it is recorded.
const fakeSmi = join(import.meta.dirname, 'fixtures', 'fake-nvidia-smi.sh');
const fakeEnv = ['FAKE_NVIDIA_SMI_SAMPLE', 'FAKE_NVIDIA_SMI_EXIT', 'FAKE_NVIDIA_SMI_SLEEP'] as const;

function useSample(sample: string, exit = 0, sleepSeconds = 0): void {
  process.env.FAKE_NVIDIA_SMI_SAMPLE = sample;
  process.env.FAKE_NVIDIA_SMI_EXIT = String(exit);
  process.env.FAKE_NVIDIA_SMI_SLEEP = sleepSeconds > 0 ? String(sleepSeconds) : '';
}

let dataRoot = '';
beforeAll(async () => {
  chmodSync(fakeSmi, 0o755); // in case a checkout dropped the executable bit
  dataRoot = await mkdtemp(join(tmpdir(), 'agent-inventory-'));
});
afterAll(() => rm(dataRoot, { recursive: true, force: true }));
afterEach(() => {
  for (const name of fakeEnv) delete process.env[name];
});

describe('probeGpus', () => {
  it('reports no GPUs with a reason when nvidia-smi does not exist (a CPU-only host)', async () => {
    const missing = join(dataRoot, 'no-such-dir', 'nvidia-smi');
    const probe = await probeGpus({ nvidiaSmiPath: missing });
    expect(probe).toEqual({
      status: 'unavailable',
      gpus: [],
      reason: `${missing} not found (no NVIDIA driver installed?)`,
    });
  });

  it('reads eight A100s from the (fake) nvidia-smi', async () => {
    useSample('a100-sxm4-80gb-x8.csv');
    const probe = await probeGpus({ nvidiaSmiPath: fakeSmi });
    expect(probe.status).toBe('ok');
    expect(probe.gpus).toHaveLength(8);
    expect(probe.gpus[7]).toMatchObject({ index: 7, memoryUsedMiB: 1024, type: 'other' });
  });

  it('passes on skipped lines next to the GPUs it could read', async () => {
    useSample('wrong-column-count.csv');
    const probe = await probeGpus({ nvidiaSmiPath: fakeSmi });
    expect(probe).toMatchObject({ status: 'ok', gpus: [{ index: 0, type: 't4' }] });
    expect(probe.status === 'ok' && probe.skipped.map((s) => s.reason)).toEqual([
      'expected 9 columns, got 8',
    ]);
  });

  it('reports the driver failure message when nvidia-smi exits non-zero', async () => {
    useSample('driver-failed.txt', 9);
    const probe = await probeGpus({ nvidiaSmiPath: fakeSmi });
    expect(probe.status).toBe('unavailable');
    expect(probe.status === 'unavailable' && probe.reason).toBe(
      `${fakeSmi} exited with 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.`,
    );
  });

  it('reports unreadable output as unavailable even when nvidia-smi exits 0', async () => {
    useSample('driver-failed.txt', 0);
    const probe = await probeGpus({ nvidiaSmiPath: fakeSmi });
    expect(probe).toMatchObject({
      status: 'unavailable',
      reason: expect.stringMatching(/^unreadable output: NVIDIA-SMI has failed/),
    });
  });

  it('gives up on an nvidia-smi that hangs', async () => {
    useSample('t4-x1.csv', 0, 5);
    const started = Date.now();
    const probe = await probeGpus({ nvidiaSmiPath: fakeSmi, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(probe).toEqual({
      status: 'unavailable',
      gpus: [],
      reason: `${fakeSmi} did not answer within 300 ms`,
    });
  });
});

describe('collectHostInventory', () => {
  it('reports CPU, memory and the data dir disk next to no GPUs on a host without nvidia-smi', async () => {
    const inventory = await collectHostInventory({
      nvidiaSmiPath: join(dataRoot, 'missing-nvidia-smi'),
      dataDir: dataRoot,
    });
    expect(inventory.gpu).toMatchObject({ status: 'unavailable', gpus: [] });
    expect(inventory.cpu.cores).toBeGreaterThan(0);
    expect(inventory.cpu.model).not.toBe('');
    expect(inventory.memory.totalBytes).toBeGreaterThan(inventory.memory.freeBytes);
    expect(inventory.disk.path).toBe(dataRoot);
    expect(inventory.disk.totalBytes).toBeGreaterThan(inventory.disk.freeBytes);
    expect(inventory.disk.freeBytes).toBeGreaterThan(0);
  });

  it('reports a T4 host from the (fake) nvidia-smi', async () => {
    useSample('t4-x1.csv');
    const inventory = await collectHostInventory({ nvidiaSmiPath: fakeSmi, dataDir: dataRoot });
    expect(inventory.gpu).toMatchObject({
      status: 'ok',
      gpus: [{ name: 'Tesla T4', type: 't4', memoryTotalMiB: 15360 }],
    });
  });
});

describe('measureDisk', () => {
  it('measures the nearest existing parent of a data dir not created yet', async () => {
    const disk = await measureDisk(join(dataRoot, 'not', 'yet', 'there'));
    expect(disk.path).toBe(dataRoot);
    expect(disk.freeBytes).toBeGreaterThan(0);
  });
});
