import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestDockerEngine,
  type TestDockerEngine,
} from '../gpu-agent/src/runtimes/testing/docker-engine.js';
import { WorkloadUsers } from '../gpu-agent/src/runtimes/workload-users.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

type Notebook = {
  id: string;
  image: string;
  status: string;
  statusReason?: string | null;
  token?: string;
  endpoint?: string | null;
};

/**
 * A notebook created with the default set-up on a host whose agent has a Docker engine: the control plane
 * gives it the platform image, meridian/notebook:1 (built here from Debian's packages by
 * scripts/build-notebook-image.sh; these machines pull from no registry), the agent accepts it as a platform
 * image and runs it in a hardened container, and its files survive a stop and a start.
 */
describe('notebooks through the docker runtime, with the default image', () => {
  let dir = '';
  let engine: TestDockerEngine | undefined;
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let token = '';
  const notebookIds: string[] = [];

  const call = jsonApi(() => cp?.url ?? '');
  const api = (method: string, path: string, body?: unknown) => call(token, method, path, body);
  const get = async (id: string) => (await api('GET', `/v1/notebooks/${id}`)).json as Notebook;
  const untilStatus = async (id: string, status: string, timeout = 90_000) => {
    const seen = async () => {
      const nb = await get(id);
      return nb.status === status ? status : `${nb.status}: ${nb.statusReason ?? ''}`;
    };
    await expect.poll(seen, { timeout, interval: 250 }).toBe(status);
    return get(id);
  };
  const jupyter = (nb: Notebook, path: string, init: RequestInit = {}) =>
    fetch(`${nb.endpoint}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `token ${nb.token}` },
      signal: AbortSignal.timeout(10_000),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notebooks-docker-e2e-'));
    engine = await startTestDockerEngine();
    await promisify(execFile)(
      resolve(import.meta.dirname, '../scripts/build-notebook-image.sh'),
      [`unix://${engine.socketPath}`],
      { timeout: 600_000 },
    );
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_DOCKER_HOST: `unix://${engine.socketPath}`,
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
    });
    const reg = await api('POST', '/v1/auth/register', {
      email: 'docker-nb@example.com',
      password: 'correct horse battery',
      name: 'docker-nb',
    });
    token = reg.json.accessToken;
  }, 660_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.stop();
    try {
      // The agent leaves its containers to the engine (a restarted agent adopts them): remove them here.
      const docker = engine?.docker;
      for (const info of (await docker?.listContainers({ all: true })) ?? []) {
        await docker?.getContainer(info.Id).remove({ force: true });
      }
      const users = new WorkloadUsers();
      for (const id of notebookIds) await users.remove(`meridian-notebook-${id}`);
    } finally {
      await engine?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs meridian/notebook:1 in a container, answers with its token, and keeps its files across stop and start', async () => {
    const created = await api('POST', '/v1/notebooks', { name: 'scratch', gpuType: 'cpu' });
    expect(created.status, created.text).toBe(201);
    expect(created.json.image).toBe('meridian/notebook:1');
    notebookIds.push(created.json.id);
    const running = await untilStatus(created.json.id, 'running');

    const containers = await engine?.docker.listContainers({
      filters: { label: [`meridian.notebook=${running.id}`] },
    });
    expect(containers?.map((c) => [c.Image, c.State])).toEqual([['meridian/notebook:1', 'running']]);
    const version = await fetch(`${running.endpoint}api`).then((r) => r.json());
    expect(version).toEqual({ version: expect.stringMatching(/^6\.4\./) });
    expect((await fetch(`${running.endpoint}api/contents`)).status).toBe(403);
    const put = await jupyter(running, 'api/contents/hello.txt', {
      method: 'PUT',
      body: JSON.stringify({ type: 'file', format: 'text', content: 'kept across restarts' }),
    });
    expect(put.status).toBe(201);

    expect((await api('POST', `/v1/notebooks/${running.id}/stop`)).status).toBe(200);
    await untilStatus(running.id, 'stopped');
    expect((await api('POST', `/v1/notebooks/${running.id}/start`)).status).toBe(200);
    const again = await untilStatus(running.id, 'running');
    const file = await jupyter(again, 'api/contents/hello.txt?content=1');
    expect(file.status).toBe(200);
    expect(((await file.json()) as { content: string }).content).toBe('kept across restarts');
  }, 240_000);
});
