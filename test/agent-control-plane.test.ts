import { webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { HostInventory, SIGNATURE_HEADERS, signRequestWebCrypto } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiClient } from '../gpu-agent/src/agent/api-client.js';
import { type RunningAgent, startAgentProcess } from './helpers/agent-process.js';
import { SignedOipClient } from './helpers/oip-client.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

const Credential = z.object({ agentId: z.string(), credential: z.string() });
const Issued = z.object({ token: z.string() });

describe('a gpu-agent process against a control plane process', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let db: Client | undefined;
  let agentEnv: Record<string, string> = {};
  let agentUrl = '';
  let bootstrapToken = '';

  const controlPlane = () => {
    if (!cp) throw new Error('the control plane did not start');
    return cp;
  };
  const database = () => {
    if (!db) throw new Error('no database');
    return db;
  };
  const agentRow = async () => {
    const rs = await database().execute(
      'select id, inventory, last_heartbeat_at, status, data_plane_url from agents',
    );
    return rs.rows;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-e2e-'));
    const cpDir = join(dir, 'cp');
    cp = await startControlPlane({ dataDir: cpDir, env: { MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1' } });
    db = createClient({ url: `file:${join(cpDir, 'control-plane.db')}` });
    const operatorToken = (await readFile(join(cpDir, 'operator-token'), 'utf8')).trim();
    const res = await fetch(`${cp.url}/internal/v1/agents/bootstrap-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds: 600 }),
    });
    bootstrapToken = Issued.parse(await res.json()).token;
    const port = await freePort();
    agentUrl = `http://127.0.0.1:${port}`;
    agentEnv = {
      MERIDIAN_AGENT_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_AGENT_DATA_DIR: join(dir, 'agent'),
      MERIDIAN_AGENT_LISTEN_PORT: String(port),
      // No NVIDIA driver here; naming a missing binary makes the CPU-only answer certain on any host.
      MERIDIAN_AGENT_NVIDIA_SMI: join(dir, 'no-nvidia-smi'),
    };
    agent = await startAgentProcess({ ...agentEnv, MERIDIAN_AGENT_BOOTSTRAP_TOKEN: bootstrapToken });
  });
  afterAll(async () => {
    await agent?.stop();
    await cp?.stop();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers with the bootstrap token and heartbeats its CPU-only inventory', async () => {
    const [row] = await agentRow();
    expect(row?.id).toBe(agent?.agentId);
    expect(row?.data_plane_url).toBe(agentUrl);
    const registeredAt = Number(row?.last_heartbeat_at);
    await expect
      .poll(async () => Number((await agentRow())[0]?.last_heartbeat_at), { timeout: 10_000 })
      .toBeGreaterThan(registeredAt);
    const inventory = HostInventory.parse(JSON.parse(String((await agentRow())[0]?.inventory)));
    expect(inventory.gpus).toEqual([]);
    expect(inventory.cpu.cores).toBeGreaterThan(0);
    expect((await agentRow())[0]?.status).toBe('online');
    expect(agent?.logs()).not.toContain(bootstrapToken);
  });

  it('answers /v2/health/live only with a valid edge signature', async () => {
    const platformKey = new TextEncoder().encode(
      (await readFile(join(dir, 'cp', 'data-plane-signing-key'), 'utf8')).trim(),
    );
    const target = '/v2/health/live';
    const client = new SignedOipClient(platformKey);
    expect((await fetch(agentUrl + target)).status).toBe(401);
    // The platform key itself, or another agent's key, is not this agent's.
    const asPlatform = await signRequestWebCrypto(webcrypto.subtle, platformKey, {
      method: 'GET',
      target,
      body: new Uint8Array(0),
      deploymentId: 'dep_health',
      timestamp: Math.floor(Date.now() / 1000),
      nonce: 'nonce-platform-1',
      keyGeneration: 1,
      contentType: '',
      inferenceHeaderContentLength: '',
    });
    const forged = {
      [SIGNATURE_HEADERS.deployment]: 'dep_health',
      [SIGNATURE_HEADERS.timestamp]: String(Math.floor(Date.now() / 1000)),
      [SIGNATURE_HEADERS.nonce]: 'nonce-platform-1',
      [SIGNATURE_HEADERS.keyGeneration]: '1',
      [SIGNATURE_HEADERS.signature]: asPlatform,
    };
    expect((await fetch(agentUrl + target, { headers: forged })).status).toBe(401);
    const other = await client.fetch({ url: agentUrl, agentId: 'agt_other' }, 'dep_health', target);
    expect(other.status).toBe(401);
    const signed = await client.fetch({ url: agentUrl, agentId: agent?.agentId ?? '' }, 'dep_health', target);
    expect(signed.status).toBe(200);
    expect(await signed.json()).toEqual({ live: true });
  });

  it('hands out an empty desired state until the scheduler places work', async () => {
    const { credential } = Credential.parse(
      JSON.parse(await readFile(join(dir, 'agent', 'credential.json'), 'utf8')),
    );
    const api = new ApiClient({ baseUrl: controlPlane().url, credential });
    const poll = await api.pollDesiredState({ waitSeconds: 0 });
    expect(poll.ok && 'workloads' in poll.value && poll.value.workloads).toEqual([]);
  });

  it('keeps its agent id across a restart without a new bootstrap token; the token stays spent', async () => {
    const before = agent?.agentId;
    expect(await agent?.stop()).toEqual({ code: 0, signal: null });
    agent = await startAgentProcess(agentEnv);
    expect(agent.agentId).toBe(before);
    expect(agent.logs()).toContain('using stored agent credential');
    expect(await agentRow()).toHaveLength(1);
    const reuse = await new ApiClient({ baseUrl: controlPlane().url }).register({
      bootstrapToken,
      hostname: 'thief',
      agentVersion: '0.1.0',
      dataPlaneUrl: 'http://127.0.0.1:1',
      inventory: { gpus: [], cpu: { cores: 1, memoryMiB: 1 }, disk: { freeBytes: 1, totalBytes: 1 } },
      runtimes: ['onnx'],
    });
    expect(!reuse.ok && reuse.error.kind === 'http' && reuse.error.status).toBe(401);
  });

  it('counts a usage report sent twice with the same seq once', async () => {
    const { agentId, credential } = Credential.parse(
      JSON.parse(await readFile(join(dir, 'agent', 'credential.json'), 'utf8')),
    );
    const api = new ApiClient({ baseUrl: controlPlane().url, credential });
    const to = new Date();
    const from = new Date(to.getTime() - 60_000);
    const report = {
      seq: 1_000,
      entries: [
        {
          workloadId: 'w-e2e',
          gpuType: 'cpu' as const,
          seconds: 60,
          from: from.toISOString(),
          to: to.toISOString(),
        },
      ],
    };
    const first = await api.reportUsage(report);
    const again = await api.reportUsage(report);
    expect(first.ok && first.value).toEqual({ seq: 1_000, accepted: true, lastSeq: 1_000 });
    expect(again.ok && again.value).toEqual({ seq: 1_000, accepted: false, lastSeq: 1_000 });
    const rows = await database().execute({
      sql: 'select count(*) as n from agent_usage_entries where agent_id = ? and workload_id = ?',
      args: [agentId, 'w-e2e'],
    });
    expect(Number(rows.rows[0]?.n)).toBe(1);
  });
});
