import { readFile } from 'node:fs/promises';
import type { Client } from '@libsql/client';
import { encodeInferRequest } from '@meridian/protocol';
import type { jsonApi } from './platform.js';
import { waitUntil } from './wait.js';

type Api = ReturnType<typeof jsonApi>;

/** Uploads `file` as version 1 of a new model `name`; resolves with the model id. */
export async function uploadModel(api: Api, cpUrl: string, token: string, name: string, file: string) {
  const model = await api(token, 'POST', '/v1/models', { name });
  if (model.status !== 201) throw new Error(`creating model ${name}: ${model.status} ${model.text}`);
  const up = await fetch(`${cpUrl}/v1/models/${model.json.id}/versions?filename=${name}.onnx`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: await readFile(file),
  });
  if (up.status !== 201) throw new Error(`uploading ${name}: ${up.status} ${await up.text()}`);
  return model.json.id as string;
}

/** Deploys version 1 of `modelId` as `name` on CPU with `settings` (autoscaling and the like). */
export async function deploy(
  api: Api,
  token: string,
  name: string,
  modelId: string,
  settings: Record<string, unknown>,
): Promise<string> {
  const created = await api(token, 'POST', '/v1/deployments', {
    name,
    model: modelId,
    version: 1,
    gpuType: 'cpu',
    deterministic: false,
    ...settings,
  });
  if (created.status !== 201) throw new Error(`deploying ${name}: ${created.status} ${created.text}`);
  return created.json.id as string;
}

export async function waitForStatus(
  api: Api,
  token: string,
  deploymentId: string,
  status: string,
  timeoutMs = 60_000,
) {
  await waitUntil(
    async () => (await api(token, 'GET', `/v1/deployments/${deploymentId}`)).json,
    (d) => d.status === status,
    { timeoutMs, what: `deployment ${deploymentId} ${status}` },
  );
}

/** The deployment's replicas in the database: agent, phase, and whether routing still takes it. */
export async function replicasOf(db: Client, deploymentId: string) {
  const rs = await db.execute({
    sql: 'select id, agent_id, phase, retire_at, created_at from workloads where deployment_id = ?',
    args: [deploymentId],
  });
  return rs.rows.map((r) => ({
    id: String(r.id),
    agentId: r.agent_id === null ? null : String(r.agent_id),
    phase: String(r.phase),
    retiring: r.retire_at !== null,
    createdAt: Number(r.created_at),
  }));
}

/**
 * Each replica's phases in ms after it was created (placed, pulling, loading, ready, first call, failed), so a
 * slow scale-out shows whether the time went to the decision, the pull, the load or the report.
 */
export async function replicaTimeline(db: Client, deploymentId: string) {
  const rs = await db.execute({
    sql: `select agent_id, phase, created_at, placed_at, pulling_at, loading_at, ready_at, first_call_at,
            failed_at, reason from workloads where deployment_id = ? order by created_at`,
    args: [deploymentId],
  });
  return rs.rows.map((r) => {
    const created = Number(r.created_at);
    const after = (v: unknown) => (v === null ? '-' : `+${Number(v) - created}`);
    return (
      `${String(r.agent_id).slice(-6)} ${String(r.phase)} created ${new Date(created).toISOString().slice(11, 23)}` +
      ` placed ${after(r.placed_at)} pulling ${after(r.pulling_at)} loading ${after(r.loading_at)}` +
      ` ready ${after(r.ready_at)} first call ${after(r.first_call_at)} failed ${after(r.failed_at)}` +
      (r.reason === null ? '' : ` (${String(r.reason)})`)
    );
  });
}

/** Replicas ready and in routing. */
export const serving = (replicas: Awaited<ReturnType<typeof replicasOf>>) =>
  replicas.filter((r) => r.phase === 'ready' && !r.retiring);

/** One OIP binary infer body for an image model: x[1,3,size,size]. */
export function imageBody(size: number) {
  const data = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.cos(i) * 0.5);
  return encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, 3, size, size], data }, binary: true },
  ]);
}

/** The classifier's input as an OIP binary body: x[1,3,48,192]. */
export function classifierBody() {
  const data = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i) * 0.5);
  return encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data }, binary: true },
  ]);
}

/** Percentile of `values` (0–100), nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** The hold bound (ms) the newest routing snapshot gives a deployment, as the edge will read it. */
export async function routedHoldMs(db: Client, deploymentId: string): Promise<number | undefined> {
  const rs = await db.execute('select document from routing_snapshots order by version desc limit 1');
  const document = rs.rows[0]?.document;
  if (typeof document !== 'string') return undefined;
  const snapshot = JSON.parse(document) as {
    deployments: { deploymentId: string; hold?: { maxWaitMs: number } }[];
  };
  return snapshot.deployments.find((d) => d.deploymentId === deploymentId)?.hold?.maxWaitMs;
}
