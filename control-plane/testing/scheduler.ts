import { readFileSync } from 'node:fs';
import type { AgentHeartbeat, DesiredState, HostInventory, WorkloadStatus } from '@meridian/protocol';
import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { deploymentRevisions, deployments, modelVersions } from '../src/db/schema.js';
import { createLogger } from '../src/lib/logger.js';
import { REAL_MODELS } from '../src/onnx/test-models.js';
import { Scheduler, type SchedulerOptions } from '../src/services/scheduler/scheduler.js';
import { issueBootstrapToken, sampleInventory } from './agents.js';
import { newModel, uploadVersion } from './models.js';
import type { createTestApp } from './test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/** A scheduler over the test app's database, ticked by hand. */
export function testScheduler(t: TestApp, options: Partial<SchedulerOptions> = {}) {
  return new Scheduler({
    db: t.db,
    logger: createLogger('silent'),
    changes: t.desiredStateChanges,
    instanceId: options.instanceId ?? 'cp-test',
    heartbeatTimeoutMs: 10_000,
    retireAfterMs: 1_000,
    idleSlackMs: 0,
    signals: t.loadSignals,
    ...options,
  });
}

/** A simulated agent that speaks the real agent protocol to the control plane, reporting what the test says. */
export async function fakeAgent(
  t: TestApp,
  options: { inventory?: HostInventory; runtimes?: ('onnx' | 'process' | 'docker')[]; url?: string } = {},
) {
  const token = await issueBootstrapToken(t);
  const inventory = options.inventory ?? sampleInventory();
  const res = await t.client.call('POST', '/agent/v1/register', {
    body: {
      bootstrapToken: token,
      hostname: 'sim-host',
      agentVersion: '0.1.0',
      dataPlaneUrl: options.url ?? `http://127.0.0.1:${20000 + Math.floor(Math.random() * 10000)}`,
      inventory,
      runtimes: options.runtimes ?? ['onnx', 'process'],
    },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  const { agentId, credential } = res.json as { agentId: string; credential: string };
  return {
    agentId,
    credential,
    /** What the control plane wants this agent to run now. */
    async desired(): Promise<DesiredState> {
      const r = await t.client.call('GET', '/agent/v1/desired-state', { token: credential });
      if (r.status !== 200) throw new Error(`desired state: ${r.status} ${r.text}`);
      return r.json as DesiredState;
    },
    /** Heartbeats with every desired workload in `phase` (or per-workload overrides). */
    async report(phase: WorkloadStatus['phase'], extra: Partial<WorkloadStatus> = {}) {
      const state = await this.desired();
      const heartbeat: AgentHeartbeat = {
        inventory,
        workloads: state.workloads.map((w) => ({ workloadId: w.workloadId, kind: w.kind, phase, ...extra })),
      };
      const r = await t.client.call('POST', '/agent/v1/heartbeat', { token: credential, body: heartbeat });
      if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${r.text}`);
      return state;
    },
    /** Reports the same load for every desired workload, as the agent's load reporter would. */
    async load(inFlight: number, queued = 0) {
      const state = await this.desired();
      const body = {
        sentAt: Date.now(),
        replicas: state.workloads.map((w) => ({ workloadId: w.workloadId, inFlight, queued })),
      };
      const r = await t.client.call('POST', '/agent/v1/load', { token: credential, body });
      if (r.status !== 204) throw new Error(`load: ${r.status} ${r.text}`);
    },
  };
}

/** A ready model version (the real PaddleOCR classifier) and a deployment row for it, as the API would write. */
export async function deployedModel(
  t: TestApp,
  owner: { accessToken: string; orgId: string; userId: string },
  options: {
    replicas?: number;
    gpuType?: 't4' | 'cpu';
    name?: string;
    /** Autoscaling settings beyond min = max = replicas. */
    scaling?: Partial<typeof deployments.$inferInsert>;
  } = {},
) {
  const modelId = await newModel(t.app, owner.accessToken);
  const bytes = readFileSync(REAL_MODELS.paddleCls);
  const versions: string[] = [];
  for (let i = 0; i < 2; i++) {
    const up = await uploadVersion(t.app, owner.accessToken, modelId, 'cls.onnx', new Uint8Array(bytes));
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text}`);
    versions.push(up.json.id);
  }
  const id = newId('deployment');
  await t.db.insert(deployments).values({
    id,
    orgId: owner.orgId,
    name: options.name ?? `dep-${id.slice(-6)}`,
    modelId,
    runtime: 'onnx',
    gpuType: options.gpuType ?? 't4',
    gpuCount: options.gpuType === 'cpu' ? 0 : 1,
    minReplicas: options.replicas ?? 2,
    maxReplicas: options.replicas ?? 2,
    desiredReplicas: options.replicas ?? 2,
    ...options.scaling,
    createdBy: owner.userId,
    updatedAt: new Date(),
  });
  await t.db
    .insert(deploymentRevisions)
    .values({ deploymentId: id, revision: 1, modelVersionId: versions[0] as string, requested: 'version:1' });
  return {
    id,
    versions,
    /** A rolling update to the second version, as PATCH would write it. */
    async rollTo(revision: number, versionId: string) {
      await t.db
        .insert(deploymentRevisions)
        .values({ deploymentId: id, revision, modelVersionId: versionId, requested: `version:${revision}` });
      await t.db.update(deployments).set({ revision }).where(eq(deployments.id, id));
    },
    async size() {
      const [v] = await t.db
        .select({ size: modelVersions.sizeBytes })
        .from(modelVersions)
        .where(eq(modelVersions.id, versions[0] as string));
      return v?.size ?? 0;
    },
  };
}
