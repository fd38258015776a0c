import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadUsers } from '../gpu-agent/src/runtimes/workload-users.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

const run = promisify(execFile);

/** Whether the host has `user` (getent exits 2 for one it does not have). */
const hasUser = (user: string) =>
  run('getent', ['passwd', user]).then(
    () => true,
    () => false,
  );

type Notebook = {
  id: string;
  status: string;
  statusReason?: string | null;
  token?: string;
  endpoint?: string | null;
  accessUrl?: string;
};

/**
 * GPU notebooks end to end on a CPU host: a control plane process and a real agent process whose process
 * runtime runs Debian's jupyter-server. Short timings (1 s heartbeats, 5 s idle timeout) keep it quick.
 */
describe('notebooks through the process runtime', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let token = '';

  const call = jsonApi(() => cp?.url ?? '');
  const api = (method: string, path: string, body?: unknown) => call(token, method, path, body);
  const get = async (id: string) => (await api('GET', `/v1/notebooks/${id}`)).json as Notebook;
  // A status other than the one awaited is shown with its reason, so a failure says why.
  const untilStatus = async (id: string, status: string, timeout = 60_000) => {
    const seen = async () => {
      const nb = await get(id);
      return nb.status === status ? status : `${nb.status}: ${nb.statusReason ?? ''}`;
    };
    await expect.poll(seen, { timeout, interval: 250 }).toBe(status);
    return get(id);
  };
  /** A CPU notebook created under `name`, once it runs. */
  const runningNotebook = async (name: string, idleTimeoutSeconds = 3600) => {
    const created = await api('POST', '/v1/notebooks', { name, gpuType: 'cpu', idleTimeoutSeconds });
    expect(created.status, created.text).toBe(201);
    return untilStatus(created.json.id, 'running');
  };
  const jupyter = (nb: Notebook, path: string, init: RequestInit = {}, withToken = true) =>
    fetch(`${nb.endpoint}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(withToken ? { authorization: `token ${nb.token}` } : {}),
      },
      signal: AbortSignal.timeout(10_000),
    });
  const restartAgent = async (onStop: 'keep-workloads' | 'stop-workloads') => {
    await agent?.stop();
    agent = await startRegisteredAgent(cp?.url ?? '', join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_ON_STOP: onStop,
    });
  };
  /** The workloads the agent keeps on record in workloads.json, to adopt after a restart. */
  const recordedWorkloads = async () => {
    const file = JSON.parse(await readFile(join(dir, 'agent', 'workloads.json'), 'utf8')) as {
      workloads: { workload: { workloadId: string; notebookId?: string } }[];
    };
    return file.workloads.map((r) => r.workload);
  };
  const volumesDir = () => join(dir, 'workloads', 'volumes');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notebooks-e2e-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_NOTEBOOK_IDLE_SLACK_SECONDS: '1',
        // An agent restart (tsx compiling it) takes longer than three 1 s heartbeats; the host is not lost then.
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '60',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'));
    const reg = await api('POST', '/v1/auth/register', {
      email: 'nb@example.com',
      password: 'correct horse battery',
      name: 'nb',
    });
    token = reg.json.accessToken;
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.stop();
    // A stopped notebook keeps its files and their system user on its host; the host goes with the suite.
    const volumes = await readdir(volumesDir()).catch(() => [] as string[]);
    for (const name of volumes) await new WorkloadUsers().remove(decodeURIComponent(name));
    await rm(dir, { recursive: true, force: true });
  });

  it('starts Jupyter with its token, keeps its files across stop and start, and records each session', async () => {
    const running = await runningNotebook('lab');
    expect(running.accessUrl).toMatch(new RegExp(`/notebooks/${running.id}/$`));
    expect((await jupyter(running, 'api/contents')).status).toBe(200);
    expect((await jupyter(running, 'api/contents', {}, false)).status).toBe(403);
    const put = await jupyter(running, 'api/contents/hello.txt', {
      method: 'PUT',
      body: JSON.stringify({ type: 'file', format: 'text', content: 'kept across restarts' }),
    });
    expect(put.status).toBe(201);

    expect((await api('POST', `/v1/notebooks/${running.id}/stop`)).status).toBe(200);
    await untilStatus(running.id, 'stopped');
    // `stopped` is recorded when the notebook leaves its host's desired state; the agent then ends the server
    // (SIGTERM, with a grace period), so its port closes a moment later.
    await expect
      .poll(
        () =>
          jupyter(running, 'api/contents').then(
            (r) => `answered ${r.status}`,
            () => 'closed',
          ),
        { timeout: 15_000 },
      )
      .toBe('closed');

    expect((await api('POST', `/v1/notebooks/${running.id}/start`)).status).toBe(200);
    const again = await untilStatus(running.id, 'running');
    const file = await jupyter(again, 'api/contents/hello.txt?content=1');
    expect(file.status).toBe(200);
    expect(((await file.json()) as { content: string }).content).toBe('kept across restarts');

    const sessions = (await api('GET', `/v1/notebooks/${running.id}/sessions`)).json.items as {
      endedAt: string | null;
      seconds: number | null;
    }[];
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.endedAt !== null)).toHaveLength(1);
    expect(sessions.find((s) => s.endedAt !== null)?.seconds).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('deletes a running notebook with its files, its record and its system user, for good', async () => {
    const running = await runningNotebook('doomed');
    const put = await jupyter(running, 'api/contents/doomed.txt', {
      method: 'PUT',
      body: JSON.stringify({ type: 'file', format: 'text', content: 'deleted with its notebook' }),
    });
    expect(put.status).toBe(201);
    // A kernel runs as the notebook's user too: it must not keep that user alive.
    expect((await jupyter(running, 'api/kernels', { method: 'POST', body: '{}' })).status).toBe(201);
    const volume = `meridian-notebook-${running.id}`;
    const volumeDir = join(volumesDir(), volume);
    const user = WorkloadUsers.nameOf(volume);
    const workloadId = (await recordedWorkloads()).find((w) => w.notebookId === running.id)?.workloadId;
    const leftOnHost = async () => ({
      volume: existsSync(volumeDir),
      recorded: (await recordedWorkloads()).some((w) => w.workloadId === workloadId),
      user: await hasUser(user),
    });
    expect(workloadId).toBeDefined();
    expect(await leftOnHost()).toEqual({ volume: true, recorded: true, user: true });

    expect((await api('DELETE', `/v1/notebooks/${running.id}`)).status).toBe(204);
    await expect
      .poll(leftOnHost, { timeout: 30_000, interval: 250 })
      .toEqual({ volume: false, recorded: false, user: false });
    expect(agent?.logs()).not.toMatch(/reconcile failed|desired state could not be applied/);

    // The next agent on this data dir neither adopts it nor starts Jupyter for it again.
    await restartAgent('stop-workloads');
    await expect.poll(() => agent?.logs(), { timeout: 30_000 }).toMatch(/"msg":"desired state applied"/);
    expect(agent?.logs()).not.toContain(workloadId);
    expect(await leftOnHost()).toEqual({ volume: false, recorded: false, user: false });
  }, 180_000);

  it('keeps a running notebook and its kernels across an agent restart (the agent’s default stop)', async () => {
    try {
      await restartAgent('keep-workloads');
      const running = await runningNotebook('kernels');
      const started = await jupyter(running, 'api/kernels', { method: 'POST', body: '{}' });
      expect(started.status).toBe(201);
      const kernel = ((await started.json()) as { id: string }).id;

      const stopped = agent;
      await restartAgent('keep-workloads');
      expect(stopped?.logs()).toMatch(/"msg":"shutting down".*"workloads":"left running"/);
      // Taken back by the new agent: the same server, its kernel still there, the notebook never stopped.
      await expect
        .poll(() => agent?.logs(), { timeout: 30_000 })
        .toMatch(/"msg":"workload ready".*"adopted":"taken-back"/);
      const again = await untilStatus(running.id, 'running');
      const kernels = await jupyter(again, 'api/kernels');
      expect(((await kernels.json()) as { id: string }[]).map((k) => k.id)).toContain(kernel);
      const sessions = (await api('GET', `/v1/notebooks/${running.id}/sessions`)).json.items as {
        endedAt: string | null;
      }[];
      expect(sessions.map((s) => s.endedAt)).toEqual([null]);
      const logs = await api('GET', `/v1/notebooks/${running.id}/logs`);
      expect(logs.text).toMatch(/left running: the agent stopped[\s\S]*still running: taken back/);

      expect((await api('POST', `/v1/notebooks/${running.id}/stop`)).status).toBe(200);
      await untilStatus(running.id, 'stopped');
    } finally {
      // The suite's own agent again: it stops what it runs with the suite.
      await restartAgent('stop-workloads');
    }
  }, 240_000);

  it('culls a notebook after its idle timeout, from the activity Jupyter itself records', async () => {
    const running = await runningNotebook('idle', 5);
    const startedAt = Date.now();
    await untilStatus(running.id, 'stopped', 30_000);
    console.info(
      `idle notebook culled ${Date.now() - startedAt} ms after it was seen running (timeout 5 s + 1 s slack)`,
    );
    const sessions = (await api('GET', `/v1/notebooks/${running.id}/sessions`)).json.items as {
      endReason: string;
    }[];
    expect(sessions[0]?.endReason).toMatch(/^culled/);
  }, 90_000);
});
