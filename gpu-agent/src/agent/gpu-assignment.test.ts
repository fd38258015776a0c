import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredNotebookWorkload } from '@meridian/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCreateOptions } from '../runtimes/docker-options.js';
import { ProcessRuntime } from '../runtimes/process-runtime.js';
import type { Workload, WorkloadSpec, WorkloadSupervisor } from '../runtimes/types.js';
import { WorkloadDirs } from '../runtimes/workload-dirs.js';
import { WORKLOAD_UID_MIN } from '../runtimes/workload-users.js';
import { assignGpus, GpuLedger, type HostGpu } from './gpu-assignment.js';
import { SupervisedRuntime } from './supervised-runtime.js';

// A FAKE GPU inventory: there is no NVIDIA GPU (or driver) on these machines, so the host's GPUs are the
// list nvidia-smi would print on a 4 × T4 + 1 × V100 host. Everything downstream of it is real: the
// SupervisedRuntime, the docker create options, and a process the real process runtime launches.
const HOST: HostGpu[] = [
  { index: 3, uuid: 'GPU-t4-3', name: 'Tesla T4' },
  { index: 0, uuid: 'GPU-t4-0', name: 'Tesla T4' },
  { index: 1, uuid: 'GPU-t4-1', name: 'Tesla T4' },
  { index: 2, uuid: 'GPU-t4-2', name: 'Tesla T4' },
  { index: 4, uuid: 'GPU-v100-4', name: 'Tesla V100-SXM2-16GB' },
];

const notebook = (id: string, gpuCount: number): DesiredNotebookWorkload => ({
  kind: 'notebook',
  workloadId: id,
  notebookId: `nb_${id}`,
  image: 'meridian/notebook',
  gpuType: 't4',
  gpuCount,
  idleTimeoutSeconds: 3600,
  token: 't'.repeat(32),
  basePath: `/notebooks/nb_${id}/`,
});

/** A supervisor that records the spec it is asked to start and reports it healthy at once. */
function recordingSupervisor(started: WorkloadSpec[]): WorkloadSupervisor {
  const running = (workloadId: string): Workload => ({
    workloadId,
    kind: 'notebook',
    state: 'running',
    endpoint: null,
    labels: {},
    ref: 'fake',
  });
  return {
    start: async (spec) => {
      started.push(structuredClone(spec));
      return running(spec.workloadId);
    },
    stop: async () => {},
    remove: async () => {},
    list: async () => [],
    logs: async () => '',
    waitForHealthy: async (id) => running(id),
    adopt: async () => [],
    removeUndesired: async () => [],
  };
}

/** A docker runtime on the fake host, with a GPU ledger of its own (as each agent process has). */
const onFakeHost = (supervisor: WorkloadSupervisor) =>
  new SupervisedRuntime({ name: 'docker', supervisor, gpus: new GpuLedger(async () => HOST) });

const ctx = () => ({ report: () => {}, exited: () => {}, signal: new AbortController().signal });

describe('GPU assignment (fake inventory: no NVIDIA GPU here)', () => {
  it('picks the lowest free indexes of the type, by UUID, and says what is missing', () => {
    expect(assignGpus(HOST, 't4', 2, new Set())).toEqual(['GPU-t4-0', 'GPU-t4-1']);
    expect(assignGpus(HOST, 't4', 2, new Set(['GPU-t4-0']))).toEqual(['GPU-t4-1', 'GPU-t4-2']);
    expect(assignGpus(HOST, 'v100', 1, new Set())).toEqual(['GPU-v100-4']);
    expect(assignGpus(HOST, 'cpu', 0, new Set())).toEqual([]);
    expect(() => assignGpus(HOST, 't4', 2, new Set(['GPU-t4-0', 'GPU-t4-1', 'GPU-t4-2']))).toThrow(
      'needs 2 t4 GPU(s); this host has 4, 1 of them free',
    );
  });

  it('gives each notebook exactly its own devices, and frees them when it stops', async () => {
    const started: WorkloadSpec[] = [];
    const runtime = onFakeHost(recordingSupervisor(started));
    await runtime.start(notebook('a', 1), ctx());
    await runtime.start(notebook('b', 2), ctx());
    expect(started.map((s) => s.gpus)).toEqual([
      { count: 1, deviceIds: ['GPU-t4-0'] },
      { count: 2, deviceIds: ['GPU-t4-1', 'GPU-t4-2'] },
    ]);
    await expect(runtime.start(notebook('c', 2), ctx())).rejects.toThrow(/needs 2 t4 GPU\(s\)/);
    await runtime.stop('a');
    await runtime.start(notebook('c', 2), ctx());
    expect(started.at(-1)?.gpus.deviceIds).toEqual(['GPU-t4-0', 'GPU-t4-3']);

    // What the docker runtime hands the engine for that spec: a device request naming exactly those GPUs.
    const spec = started.at(-1);
    if (!spec) throw new Error('no spec recorded');
    const options = buildCreateOptions(
      spec,
      { agentId: 'agt_gpu', volumeMountPath: '/home/jovyan/work' },
      { network: 'none', uid: WORKLOAD_UID_MIN, gid: WORKLOAD_UID_MIN },
    );
    expect(options.HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', DeviceIDs: ['GPU-t4-0', 'GPU-t4-3'], Capabilities: [['gpu']] },
    ]);
  });
});

describe('GPU assignment across an agent restart (same fake inventory)', () => {
  it('keeps the devices of a notebook the next agent takes back, and pins a new one to others', async () => {
    const started: WorkloadSpec[] = [];
    const before = onFakeHost(recordingSupervisor(started));
    await before.start(notebook('kept', 2), ctx());
    const [kept] = started;
    expect(kept?.labels['meridian.gpus']).toBe('GPU-t4-0,GPU-t4-1');

    // The next agent: a ledger of its own, and the engine still running the notebook under its labels.
    const supervisor = recordingSupervisor(started);
    supervisor.adopt = async () => [
      {
        workloadId: 'kept',
        kind: 'notebook',
        state: 'running',
        endpoint: null,
        labels: kept?.labels ?? {},
        ref: 'c1',
      },
    ];
    const after = onFakeHost(supervisor);
    expect(await after.adopt(notebook('kept', 2), ctx())).toBe('taken-back');
    await after.start(notebook('new', 2), ctx());
    expect(started.at(-1)?.gpus.deviceIds).toEqual(['GPU-t4-2', 'GPU-t4-3']);
  });
});

describe('the process runtime shows a workload only its devices', () => {
  const root = mkdtempSync(join(tmpdir(), 'meridian-gpuenv-'));
  chmodSync(root, 0o711);
  const runtime = new ProcessRuntime({
    dataDir: join(root, 'agent'),
    agentId: 'agt_gpuenv',
    workloads: new WorkloadDirs(join(root, 'workloads')),
  });
  afterAll(async () => {
    for (const w of await runtime.list()) await runtime.remove(w.workloadId, { deleteVolume: true });
    await runtime.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** The environment a real launched process saw, as it wrote it into its own volume. */
  async function environmentOf(id: string, gpus: WorkloadSpec['gpus'], env: Record<string, string> = {}) {
    await runtime.start({
      workloadId: id,
      kind: 'notebook',
      command: ['/bin/sh', '-c', 'env > {workdir}/env.txt; exec sleep 60'],
      env,
      gpus,
      port: 8888,
      volume: `vol-${id}`,
      labels: {},
    });
    const file = join(root, 'workloads', 'volumes', `vol-${id}`, 'env.txt');
    for (let i = 0; i < 100; i++) {
      try {
        const lines = readFileSync(file, 'utf8').split('\n');
        if (lines.length > 1) return lines;
      } catch {
        // not written yet
      }
      await sleep(50);
    }
    throw new Error(`${id} wrote no environment`);
  }

  it('sets CUDA_VISIBLE_DEVICES to the assigned UUIDs, overriding what the workload asked for', async () => {
    const env = await environmentOf(
      'gpu2',
      { count: 2, deviceIds: ['GPU-t4-1', 'GPU-t4-2'] },
      {
        CUDA_VISIBLE_DEVICES: 'all',
      },
    );
    expect(env).toContain('CUDA_VISIBLE_DEVICES=GPU-t4-1,GPU-t4-2');
    expect(env).toContain('NVIDIA_VISIBLE_DEVICES=GPU-t4-1,GPU-t4-2');
  });

  it('hides every GPU from a CPU workload', async () => {
    const env = await environmentOf('cpu0', { count: 0, deviceIds: [] });
    expect(env).toContain('CUDA_VISIBLE_DEVICES=');
    expect(env).toContain('NVIDIA_VISIBLE_DEVICES=void');
  });
});
