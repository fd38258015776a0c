import type { AgentRuntime, AgentStatus, GpuInfo, GpuType } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import {
  type AssignedWorkload,
  gpuTypeOf,
  type HostSnapshot,
  placeWorkloads,
  type WorkloadNeeds,
} from './placement.js';

// Placement reads nvidia-smi inventories; no NVIDIA GPU is here, so hosts are written as the agent reports them.
const NAMES = { t4: 'Tesla T4', v100: 'Tesla V100-SXM2-16GB', rtx4090: 'NVIDIA GeForce RTX 4090' } as const;
const TOTAL_MIB = { t4: 15360, v100: 16384, rtx4090: 24564 } as const;
const GB = 1e9;

type CardType = keyof typeof NAMES;

function gpus(type: CardType, count: number, freeMiB: number = TOTAL_MIB[type] - 430): GpuInfo[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    uuid: `GPU-${type}-${index}`,
    name: NAMES[type],
    memoryTotalMiB: TOTAL_MIB[type],
    memoryUsedMiB: TOTAL_MIB[type] - freeMiB,
    memoryFreeMiB: freeMiB,
    utilizationPct: 0,
    temperatureC: 40,
    powerDrawW: 30,
  }));
}

interface HostOptions {
  gpus?: GpuInfo[];
  status?: AgentStatus;
  runtimes?: AgentRuntime[];
  diskFreeBytes?: number;
  memoryMiB?: number;
  assigned?: AssignedWorkload[];
}

function host(agentId: string, o: HostOptions = {}): HostSnapshot {
  return {
    agentId,
    status: o.status ?? 'online',
    runtimes: o.runtimes ?? ['onnx', 'docker', 'process'],
    inventory: {
      gpus: o.gpus ?? [],
      cpu: { cores: 16, memoryMiB: o.memoryMiB ?? 65536 },
      disk: { freeBytes: o.diskFreeBytes ?? 500 * GB, totalBytes: 1000 * GB },
    },
    assigned: o.assigned ?? [],
  };
}

function model(workloadId: string, group: string, o: Partial<WorkloadNeeds> = {}): WorkloadNeeds {
  const gpuType: GpuType = o.gpuType ?? 't4';
  return {
    workloadId,
    kind: 'model',
    group,
    gpuType,
    gpuCount: gpuType === 'cpu' ? 0 : 1,
    gpuMemoryMiB: gpuType === 'cpu' ? 0 : 2048,
    diskBytes: 0.5 * GB,
    memoryMiB: 1024,
    runtimes: ['onnx'],
    ...o,
  };
}

function notebook(workloadId: string, o: Partial<WorkloadNeeds> = {}): WorkloadNeeds {
  const gpuType: GpuType = o.gpuType ?? 't4';
  return {
    workloadId,
    kind: 'notebook',
    group: workloadId,
    gpuType,
    gpuCount: gpuType === 'cpu' ? 0 : 1,
    gpuMemoryMiB: 0,
    diskBytes: 0,
    memoryMiB: 4096,
    runtimes: ['docker', 'process'],
    ...o,
  };
}

const hostOf = (hosts: HostSnapshot[], pending: WorkloadNeeds[]) =>
  Object.fromEntries(placeWorkloads(hosts, pending).placed.map((p) => [p.workloadId, p.agentId]));

const reasonOf = (hosts: HostSnapshot[], w: WorkloadNeeds) => {
  const result = placeWorkloads(hosts, [w]);
  expect(result.placed).toEqual([]);
  return result.unschedulable[0]?.reason;
};

describe('gpuTypeOf', () => {
  it.each([
    ['Tesla T4', 't4'],
    ['NVIDIA T4G', 't4'],
    ['Tesla V100-SXM2-16GB', 'v100'],
    ['Tesla V100-PCIE-32GB', 'v100'],
    ['Tesla V100S-PCIE-32GB', 'v100'],
    ['NVIDIA GeForce RTX 4090', 'rtx4090'],
    ['NVIDIA GeForce RTX 4090 D', undefined],
    ['NVIDIA GeForce RTX 4080', undefined],
    ['NVIDIA A100-SXM4-80GB', undefined],
    ['NVIDIA H100 80GB HBM3', undefined],
    ['NVIDIA L4', undefined],
  ] as const)('reads %s as %s', (name, type) => {
    expect(gpuTypeOf(name)).toBe(type);
  });
});

describe('placeWorkloads: fit', () => {
  it('puts a workload only on a host with its GPU type', () => {
    const hosts = [host('agt_a', { gpus: gpus('rtx4090', 1) }), host('agt_b', { gpus: gpus('t4', 1) })];
    expect(hostOf(hosts, [model('w1', 'dep_1', { gpuType: 't4' })])).toEqual({ w1: 'agt_b' });
    expect(reasonOf(hosts, model('w2', 'dep_1', { gpuType: 'v100' }))).toBe(
      'no online host with 1× V100 free with 2048 MiB GPU memory each (none has any V100)',
    );
  });

  it('says which host came closest when no host has enough GPUs free', () => {
    const busy = model('w0', 'dep_0');
    const hosts = [
      host('agt_x', { gpus: gpus('t4', 2), assigned: [busy] }),
      host('agt_y', { gpus: gpus('t4', 1) }),
    ];
    expect(reasonOf(hosts, notebook('nb_1', { gpuCount: 2, gpuMemoryMiB: 14000 }))).toBe(
      'no online host with 2× T4 free with 14000 MiB GPU memory each (best: agt_x has 1 free)',
    );
    const full = [
      host('agt_x', { gpus: gpus('rtx4090', 1), assigned: [model('w0', 'dep_0', { gpuType: 'rtx4090' })] }),
    ];
    expect(reasonOf(full, notebook('nb_2', { gpuType: 'rtx4090' }))).toBe(
      'no online host with 1× RTX 4090 free (all 1 in use)',
    );
  });

  it('refuses a GPU whose free memory is short of the estimate', () => {
    const hosts = [host('agt_a', { gpus: gpus('t4', 2, 14930) })];
    const w = model('w1', 'dep_1', { gpuMemoryMiB: 15000 });
    expect(reasonOf(hosts, w)).toBe(
      'no online host with 1× T4 free with 15000 MiB GPU memory each (best: agt_a has 2 free, the largest with 14930 MiB)',
    );
    expect(hostOf(hosts, [{ ...w, gpuMemoryMiB: 14930 }])).toEqual({ w1: 'agt_a' });
  });

  it('skips a GPU with too little free memory and takes one that has enough', () => {
    const [low, high] = [...gpus('t4', 1, 1000), ...gpus('t4', 1, 15000).map((g) => ({ ...g, index: 1 }))];
    if (!low || !high) throw new Error('fixture');
    const hosts = [host('agt_a', { gpus: [low, high] })];
    const result = placeWorkloads(hosts, [
      model('w1', 'dep_1', { gpuMemoryMiB: 8000 }),
      model('w2', 'dep_1'),
    ]);
    // w1 takes GPU 1, the only one with 8000 MiB free; w2's 2048 MiB does not fit the 1000 MiB left on GPU 0.
    expect(result.placed).toEqual([{ workloadId: 'w1', agentId: 'agt_a' }]);
    expect(result.unschedulable[0]?.reason).toMatch(/best: agt_a has 1 free, the largest with 1000 MiB/);
  });

  it('refuses a model whose file does not fit the free disk left after assigned models', () => {
    const cached = model('w0', 'dep_0', { diskBytes: 1 * GB });
    const hosts = [
      host('agt_a', { gpus: gpus('t4', 2), diskFreeBytes: 2.5 * GB, assigned: [cached] }),
      host('agt_b', { gpus: gpus('t4', 1), diskFreeBytes: 0.4 * GB }),
    ];
    expect(reasonOf(hosts, model('w1', 'dep_1', { diskBytes: 2.1 * GB }))).toBe(
      'no online host has 2.1 GB free disk for the model (best: agt_a has 1.5 GB)',
    );
    expect(hostOf(hosts, [model('w1', 'dep_1', { diskBytes: 1.5 * GB })])).toEqual({ w1: 'agt_a' });
  });

  it('names the hosts a failing check was narrowed to', () => {
    const hosts = [
      host('agt_a', { gpus: gpus('t4', 1), runtimes: ['docker'], diskFreeBytes: 1 * GB }),
      host('agt_b', { gpus: gpus('t4', 1), runtimes: ['onnx'], diskFreeBytes: 9 * GB }),
      host('agt_c', { runtimes: ['docker'], diskFreeBytes: 900 * GB }),
    ];
    expect(reasonOf(hosts, model('w1', 'dep_1', { runtimes: ['docker'], diskBytes: 2.1 * GB }))).toBe(
      'no online host running docker with 1× T4 free with 2048 MiB GPU memory each has 2.1 GB free disk for the model (best: agt_a has 1.0 GB)',
    );
  });

  it('needs one of the workload runtimes on the host', () => {
    const hosts = [host('agt_a', { gpus: gpus('t4', 1), runtimes: ['onnx'] })];
    expect(reasonOf(hosts, notebook('nb_1'))).toBe(
      'no online host runs the docker or process runtime (online hosts run onnx)',
    );
    expect(hostOf(hosts, [model('w1', 'dep_1')])).toEqual({ w1: 'agt_a' });
  });

  it('counts placements made earlier in the same call against the host', () => {
    const hosts = [host('agt_a', { gpus: gpus('t4', 1), memoryMiB: 8192 })];
    const result = placeWorkloads(hosts, [notebook('nb_1'), notebook('nb_2')]);
    expect(result.placed).toEqual([{ workloadId: 'nb_1', agentId: 'agt_a' }]);
    expect(result.unschedulable).toEqual([
      { workloadId: 'nb_2', reason: 'no online host with 1× T4 free (all 1 in use)' },
    ]);
  });

  it('lets a CPU host take cpu workloads only, placed by the memory left', () => {
    const hosts = [
      host('agt_cpu', { memoryMiB: 10_000, assigned: [model('w0', 'dep_0', { gpuType: 'cpu' })] }),
    ];
    const result = placeWorkloads(hosts, [
      model('w1', 'dep_1', { gpuType: 'cpu', memoryMiB: 8000 }),
      model('w2', 'dep_2', { gpuType: 'cpu', memoryMiB: 1000 }),
      model('w3', 'dep_3', { gpuType: 't4' }),
    ]);
    expect(result.placed).toEqual([{ workloadId: 'w1', agentId: 'agt_cpu' }]);
    expect(result.unschedulable).toEqual([
      { workloadId: 'w2', reason: 'no online host has 1000 MiB free memory (best: agt_cpu has 976 MiB)' },
      {
        workloadId: 'w3',
        reason: 'no online host with 1× T4 free with 2048 MiB GPU memory each (none has any T4)',
      },
    ]);
  });

  it('lets a GPU host take cpu workloads too', () => {
    expect(hostOf([host('agt_a', { gpus: gpus('t4', 1) })], [notebook('nb_1', { gpuType: 'cpu' })])).toEqual({
      nb_1: 'agt_a',
    });
  });

  it('gives draining and lost hosts nothing', () => {
    const roomy = { gpus: gpus('t4', 8), memoryMiB: 512_000 };
    const hosts = [
      host('agt_a', { ...roomy, status: 'draining' }),
      host('agt_b', { ...roomy, status: 'lost' }),
      host('agt_c', { gpus: gpus('t4', 1) }),
    ];
    const result = placeWorkloads(hosts, [notebook('nb_1'), notebook('nb_2'), model('w1', 'dep_1')]);
    expect(result.placed).toEqual([{ workloadId: 'nb_1', agentId: 'agt_c' }]);
    expect(result.unschedulable.map((u) => u.workloadId)).toEqual(['nb_2', 'w1']);
    expect(reasonOf(hosts.slice(0, 2), notebook('nb_3'))).toBe('no online hosts (1 draining, 1 lost)');
    expect(reasonOf([], notebook('nb_3'))).toBe('no online hosts');
  });
});

describe('placeWorkloads: spread and pack', () => {
  const t4Hosts = (n: number) =>
    Array.from({ length: n }, (_, i) => host(`agt_${i}`, { gpus: gpus('t4', 4) }));

  it('spreads three replicas over three hosts, one each', () => {
    const replicas = ['r1', 'r2', 'r3'].map((id) => model(id, 'dep_1'));
    expect(hostOf(t4Hosts(3), replicas)).toEqual({ r1: 'agt_0', r2: 'agt_1', r3: 'agt_2' });
  });

  it('spreads three replicas over two hosts two and one', () => {
    const replicas = ['r1', 'r2', 'r3'].map((id) => model(id, 'dep_1'));
    expect(hostOf(t4Hosts(2), replicas)).toEqual({ r1: 'agt_0', r2: 'agt_1', r3: 'agt_0' });
  });

  it('counts replicas already placed when spreading, and ignores other deployments', () => {
    const [a, b] = t4Hosts(2);
    if (!a || !b) throw new Error('fixture');
    a.assigned = [model('r0', 'dep_1')];
    b.assigned = [model('x1', 'dep_2'), model('x2', 'dep_2')];
    expect(hostOf([a, b], [model('r1', 'dep_1')])).toEqual({ r1: 'agt_1' });
  });

  it('co-locates replicas only when no other host fits', () => {
    const hosts = [host('agt_a', { gpus: gpus('t4', 2) }), host('agt_b', { gpus: gpus('t4', 1, 1000) })];
    expect(hostOf(hosts, [model('r1', 'dep_1'), model('r2', 'dep_1')])).toEqual({ r1: 'agt_a', r2: 'agt_a' });
    const roomy = [host('agt_a', { gpus: gpus('t4', 2) }), host('agt_b', { gpus: gpus('t4', 1) })];
    expect(hostOf(roomy, [model('r1', 'dep_1'), model('r2', 'dep_1')])).toEqual({ r1: 'agt_a', r2: 'agt_b' });
  });

  it('packs GPU notebooks onto the host with the fewest free GPUs that still fits', () => {
    const hosts = [
      host('agt_a', { gpus: gpus('t4', 4) }),
      host('agt_b', { gpus: gpus('t4', 4), assigned: [notebook('nb_0', { gpuCount: 2 })] }),
      host('agt_c', { gpus: gpus('t4', 4), assigned: [notebook('nb_x', { gpuCount: 4 })] }),
    ];
    expect(hostOf(hosts, [notebook('nb_1'), notebook('nb_2'), notebook('nb_3')])).toEqual({
      nb_1: 'agt_b',
      nb_2: 'agt_b',
      nb_3: 'agt_a',
    });
  });

  it('packs cpu notebooks onto the host with the least free memory that fits', () => {
    const hosts = [
      host('agt_a', { memoryMiB: 65536 }),
      host('agt_b', { memoryMiB: 8192 }),
      host('agt_c', { memoryMiB: 2048 }),
    ];
    expect(
      hostOf(hosts, [notebook('nb_1', { gpuType: 'cpu' }), notebook('nb_2', { gpuType: 'cpu' })]),
    ).toEqual({
      nb_1: 'agt_b',
      nb_2: 'agt_b',
    });
  });
});

describe('placeWorkloads: determinism', () => {
  // A small seeded generator (mulberry32), so every run draws the same clusters.
  function random(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function cluster(rand: () => number): { hosts: HostSnapshot[]; pending: WorkloadNeeds[] } {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
    const types = ['t4', 'v100', 'rtx4090'] as const;
    const workload = (id: string): WorkloadNeeds => {
      const gpuType = pick(['t4', 'v100', 'rtx4090', 'cpu'] as const);
      const needs = {
        gpuType,
        gpuCount: gpuType === 'cpu' ? 0 : pick([1, 1, 2]),
        gpuMemoryMiB: gpuType === 'cpu' ? 0 : pick([0, 4000, 12000, 20000]),
        diskBytes: pick([0, 0.2 * GB, 3 * GB]),
        memoryMiB: pick([512, 4096, 16384]),
      };
      return rand() < 0.5 ? model(id, pick(['dep_1', 'dep_2', 'dep_3']), needs) : notebook(id, needs);
    };
    const hosts = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => {
      const type = pick(types);
      return host(`agt_${i}`, {
        status: pick(['online', 'online', 'online', 'draining', 'lost'] as const),
        runtimes: pick([['onnx'], ['docker'], ['onnx', 'docker', 'process']] as AgentRuntime[][]),
        gpus:
          rand() < 0.2 ? [] : gpus(type, 1 + Math.floor(rand() * 4), Math.floor(rand() * TOTAL_MIB[type])),
        memoryMiB: pick([8192, 32768]),
        diskFreeBytes: pick([1 * GB, 10 * GB]),
        assigned: Array.from({ length: Math.floor(rand() * 3) }, (_, j) => workload(`old_${i}_${j}`)),
      });
    });
    const pending = Array.from({ length: 1 + Math.floor(rand() * 12) }, (_, i) => workload(`w_${i}`));
    return { hosts, pending };
  }

  function shuffled<T>(items: readonly T[], rand: () => number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  }

  it('gives the same result for shuffled inputs, over many seeded random clusters', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = random(seed);
      const { hosts, pending } = cluster(rand);
      const expected = placeWorkloads(hosts, pending);
      const reordered = shuffled(hosts, rand).map((h) => ({
        ...h,
        assigned: shuffled(h.assigned, rand),
        inventory: { ...h.inventory, gpus: shuffled(h.inventory.gpus, rand) },
      }));
      expect(placeWorkloads(reordered, shuffled(pending, rand)), `seed ${seed}`).toEqual(expected);
      expect(expected.placed.length + expected.unschedulable.length).toBe(pending.length);
    }
  });

  it('never places on a host that is not online or oversubscribes its GPUs, memory or disk', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { hosts, pending } = cluster(random(seed));
      const byId = new Map(pending.map((w) => [w.workloadId, w]));
      const { placed } = placeWorkloads(hosts, pending);
      for (const h of hosts) {
        const mine = placed
          .filter((p) => p.agentId === h.agentId)
          .map((p) => byId.get(p.workloadId) as WorkloadNeeds);
        if (mine.length === 0) continue;
        expect(h.status, `seed ${seed}`).toBe('online');
        const all = [...h.assigned, ...mine];
        for (const type of ['t4', 'v100', 'rtx4090'] as const) {
          const have = h.inventory.gpus.filter((g) => gpuTypeOf(g.name) === type).length;
          const used = all.filter((w) => w.gpuType === type).reduce((n, w) => n + w.gpuCount, 0);
          if (mine.some((w) => w.gpuType === type)) expect(used, `seed ${seed}`).toBeLessThanOrEqual(have);
        }
        const sum = (f: (w: WorkloadNeeds) => number) => all.reduce((n, w) => n + f(w), 0);
        if (mine.some((w) => w.diskBytes > 0)) {
          expect(sum((w) => w.diskBytes)).toBeLessThanOrEqual(h.inventory.disk.freeBytes);
        }
        // Only cpu workloads are placed by memory: everything placed up to the last of them must fit in it.
        const lastCpu = mine.filter((w) => w.gpuType === 'cpu').at(-1);
        if (lastCpu) {
          const upTo = [...h.assigned, ...mine.filter((w) => w.workloadId <= lastCpu.workloadId)];
          expect(upTo.reduce((n, w) => n + w.memoryMiB, 0)).toBeLessThanOrEqual(h.inventory.cpu.memoryMiB);
        }
      }
    }
  });
});
