import { type AgentHeartbeat, type AgentRegistration, type HostInventory, newId } from '@meridian/protocol';
import { notebookSessions } from '../src/db/schema.js';
import type { createTestApp } from './test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/** A host with one T4, as nvidia-smi would describe it. */
export function sampleInventory(memoryUsedMiB = 0): HostInventory {
  return {
    gpus: [
      {
        index: 0,
        uuid: 'GPU-5f1d2c3b-0000-4000-8000-000000000000',
        name: 'Tesla T4',
        memoryTotalMiB: 15360,
        memoryUsedMiB,
        memoryFreeMiB: 15360 - memoryUsedMiB,
        utilizationPct: 0,
        temperatureC: 38,
        powerDrawW: null,
      },
    ],
    cpu: { cores: 8, memoryMiB: 32768 },
    disk: { freeBytes: 100 * 1024 ** 3, totalBytes: 200 * 1024 ** 3 },
  };
}

export function sampleRegistration(bootstrapToken: string): AgentRegistration {
  return {
    bootstrapToken,
    hostname: 'gpu-host-1',
    agentVersion: '0.1.0',
    dataPlaneUrl: 'http://10.0.0.5:9090',
    inventory: sampleInventory(),
    runtimes: ['onnx', 'process'],
  };
}

export function sampleHeartbeat(memoryUsedMiB = 2048): AgentHeartbeat {
  return {
    inventory: sampleInventory(memoryUsedMiB),
    workloads: [{ workloadId: 'wl-1', kind: 'model', phase: 'ready', startedAt: new Date().toISOString() }],
  };
}

/** Issues a bootstrap token with the operator credential, as scripts/issue-bootstrap-token.mjs does. */
export async function issueBootstrapToken(t: TestApp, ttlSeconds = 3600): Promise<string> {
  const res = await t.client.call('POST', '/internal/v1/agents/bootstrap-tokens', {
    token: t.operatorToken,
    body: { ttlSeconds },
  });
  if (res.status !== 201) throw new Error(`issue failed: ${res.status} ${res.text}`);
  return res.json.token;
}

/** A freshly registered agent: its id and credential. */
export async function registerTestAgent(t: TestApp): Promise<{ agentId: string; credential: string }> {
  const token = await issueBootstrapToken(t);
  const res = await t.client.call('POST', '/agent/v1/register', { body: sampleRegistration(token) });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return { agentId: res.json.agentId, credential: res.json.credential };
}

/**
 * Records that `agentId` ran a CPU notebook (what the scheduler writes when it places one, and ends when it
 * leaves the host): the agent's save and restore routes answer only the agents a notebook ran on.
 */
export async function recordNotebookRun(
  t: TestApp,
  run: { notebookId: string; orgId: string; agentId: string; startedAt?: Date; endedAt?: Date },
): Promise<void> {
  await t.db.insert(notebookSessions).values({
    id: newId('notebookSession'),
    gpuType: 'cpu',
    gpuCount: 0,
    startedAt: new Date(),
    ...run,
  });
}
