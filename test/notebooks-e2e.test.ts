import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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

  it('removes a stopped notebook’s files, system user and save marker from its host once it is deleted, even while the agent was down', async () => {
    /** A notebook that ran here with a file of its own and was stopped: saved, its files kept here. */
    const stoppedNotebook = async (name: string) => {
      const running = await runningNotebook(name);
      const put = await jupyter(running, 'api/contents/kept.txt', {
        method: 'PUT',
        body: JSON.stringify({ type: 'file', format: 'text', content: `files of ${name}` }),
      });
      expect(put.status).toBe(201);
      expect((await api('POST', `/v1/notebooks/${running.id}/stop`)).status).toBe(200);
      await untilStatus(running.id, 'stopped');
      const volume = `meridian-notebook-${running.id}`;
      const onHost = async () => ({
        volume: existsSync(join(volumesDir(), volume)),
        marker: existsSync(join(dir, 'agent', 'notebook-saves', `${running.id}.save`)),
        user: await hasUser(WorkloadUsers.nameOf(volume)),
      });
      // Saved once its server has ended: the marker is written last.
      await expect.poll(onHost, { timeout: 30_000 }).toEqual({ volume: true, marker: true, user: true });
      return { id: running.id, onHost };
    };
    const kept = await stoppedNotebook('shelved');
    const deleted = await stoppedNotebook('binned');
    const whileDown = await stoppedNotebook('binned-offline');
    const none = { volume: false, marker: false, user: false };

    expect((await api('DELETE', `/v1/notebooks/${deleted.id}`)).status).toBe(204);
    await expect.poll(deleted.onHost, { timeout: 30_000, interval: 250 }).toEqual(none);
    expect(agent?.logs()).toMatch(
      new RegExp(`"msg":"removed the files of a deleted notebook".*${deleted.id}`),
    );

    // Deleted while no agent ran on the host: the next one removes it after its first desired state.
    await agent?.stop();
    expect((await api('DELETE', `/v1/notebooks/${whileDown.id}`)).status).toBe(204);
    expect(await whileDown.onHost()).toEqual({ volume: true, marker: true, user: true });
    agent = await startRegisteredAgent(cp?.url ?? '', join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
    });
    await expect.poll(whileDown.onHost, { timeout: 30_000, interval: 250 }).toEqual(none);

    // A stopped notebook that still exists keeps all of it, and starts again with its files.
    expect(await kept.onHost()).toEqual({ volume: true, marker: true, user: true });
    expect((await api('POST', `/v1/notebooks/${kept.id}/start`)).status).toBe(200);
    const again = await untilStatus(kept.id, 'running');
    const file = await jupyter(again, 'api/contents/kept.txt?content=1');
    expect(((await file.json()) as { content: string }).content).toBe('files of shelved');
    expect((await api('POST', `/v1/notebooks/${kept.id}/stop`)).status).toBe(200);
    await untilStatus(kept.id, 'stopped');
    // The control plane keeps no save of either deleted notebook (the filesystem store's objects are files).
    const objects = join(dir, 'cp', 'objects');
    const saved = (await readdir(objects, { recursive: true })).filter((p) =>
      statSync(join(objects, p)).isFile(),
    );
    expect(saved.filter((p) => p.includes(kept.id))).not.toEqual([]);
    expect(saved.filter((p) => p.includes(deleted.id) || p.includes(whileDown.id))).toEqual([]);
  }, 240_000);

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
