import { describe, expect, it } from 'vitest';
import {
  AgentHeartbeat,
  AgentRegistration,
  DesiredStatePoll,
  RegistrationResponse,
  UsageReport,
} from './index.js';

const inventory = {
  gpus: [
    {
      index: 0,
      uuid: 'GPU-1',
      name: 'NVIDIA GeForce RTX 4090',
      memoryTotalMiB: 24564,
      memoryUsedMiB: 1,
      memoryFreeMiB: 24563,
      utilizationPct: 3,
      temperatureC: null,
      powerDrawW: 21.5,
    },
  ],
  cpu: { cores: 16, memoryMiB: 65536 },
  disk: { freeBytes: 10, totalBytes: 20 },
};
const registration = {
  bootstrapToken: 'mbt_x',
  hostname: 'host',
  agentVersion: '0.1.0',
  dataPlaneUrl: 'https://agent.example.com:9090',
  inventory,
  runtimes: ['onnx', 'docker'],
};

describe('agent wire schemas', () => {
  it('accept a registration from a GPU host and from a CPU-only one', () => {
    expect(AgentRegistration.parse(registration)).toEqual(registration);
    expect(
      AgentRegistration.safeParse({ ...registration, inventory: { ...inventory, gpus: [] } }).success,
    ).toBe(true);
  });

  it('refuse fields the control plane does not know in what agents send', () => {
    expect(AgentRegistration.safeParse({ ...registration, extra: 1 }).success).toBe(false);
    const gpu = { ...inventory.gpus[0], eccErrors: 0 };
    expect(
      AgentHeartbeat.safeParse({ inventory: { ...inventory, gpus: [gpu] }, workloads: [] }).success,
    ).toBe(false);
  });

  it('let an older agent read answers that carry fields it does not know yet', () => {
    const answer = {
      agentId: 'agt_x',
      credential: 'mac_x',
      heartbeatIntervalSeconds: 15,
      dataPlaneKey: { generation: 1, key: 'ab'.repeat(32) },
    };
    expect(RegistrationResponse.parse({ ...answer, region: 'eu' })).toEqual(answer);
  });

  it('tell a full desired state from an unchanged answer', () => {
    const state = DesiredStatePoll.parse({
      version: 3,
      workloads: [
        {
          kind: 'model',
          workloadId: 'dep_1-0',
          deploymentId: 'dep_1',
          gpuType: 't4',
          gpuCount: 1,
          model: {
            versionId: 'mdv_1',
            format: 'onnx',
            runtime: 'onnx',
            sha256: 'a'.repeat(64),
            sizeBytes: 10,
          },
        },
      ],
    });
    expect('workloads' in state && state.workloads[0]?.kind).toBe('model');
    expect(DesiredStatePoll.parse({ unchanged: true, version: 3 })).toEqual({ unchanged: true, version: 3 });
  });

  it('refuse a heartbeat naming a workload twice and usage whose seconds exceed its window', () => {
    const workload = { workloadId: 'w', kind: 'notebook', phase: 'ready' };
    expect(AgentHeartbeat.safeParse({ inventory, workloads: [workload, workload] }).success).toBe(false);
    const entry = {
      workloadId: 'w',
      gpuType: 'v100',
      seconds: 61,
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-01T00:00:59Z',
    };
    expect(UsageReport.safeParse({ seq: 1, entries: [entry] }).success).toBe(false);
    expect(UsageReport.safeParse({ seq: 1, entries: [{ ...entry, seconds: 59 }] }).success).toBe(true);
  });
});
