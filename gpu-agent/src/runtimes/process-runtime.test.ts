import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jupyterServerCommand, notebookEnv } from './jupyter.js';
import { ProcessRecordStore, readProcStat } from './process-records.js';
import { ProcessRuntime, tmpCovers } from './process-runtime.js';
import type { WorkloadSpec } from './types.js';
import { WorkloadDirs } from './workload-dirs.js';
import { WORKLOAD_UID_MAX, WORKLOAD_UID_MIN, WorkloadUsers } from './workload-users.js';

// A real Jupyter server (Debian's jupyter-server) started as a child process, isolated: its own user, its
// own network namespace, serving on a unix socket the runtime relays 127.0.0.1 to. The tests run as root.
const JUPYTER = '/usr/bin/jupyter-server';
const AGENT_ID = 'agt_proctest';
const token = randomBytes(24).toString('hex');
let root = '';
let dataDir = '';

const runtime = () =>
  new ProcessRuntime({ dataDir, agentId: AGENT_ID, workloads: new WorkloadDirs(join(root, 'workloads')) });
const notebook: WorkloadSpec = {
  workloadId: 'nb_bob',
  kind: 'notebook',
  command: jupyterServerCommand({ executable: JUPYTER }),
  env: notebookEnv(token),
  gpus: { count: 0, deviceIds: [] },
  port: 8888,
  volume: 'nb_bob-home',
  labels: { 'meridian.notebook': 'nb_bob' },
};
const probe = { path: '/api/status', headers: { Authorization: `token ${token}` }, timeoutMs: 20_000 };

/** Processes the tests started outside a runtime, killed at the end whatever happens. */
const escaped: number[] = [];

/** Pids of live processes whose environment names the workload: how many servers really run. */
function pidsOf(workloadId: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (/\) Z /.test(stat)) return false;
        return readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .includes(`MERIDIAN_WORKLOAD_ID=${workloadId}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const stat = await readProcStat(pid);
    if (!stat || stat.state === 'Z') return true;
    await sleep(50);
  }
  return false;
}

beforeAll(() => {
  if (!existsSync(JUPYTER)) {
    throw new Error(
      `${JUPYTER} is missing: run \`node scripts/ensure-system-deps.mjs\` as root (jupyter-server)`,
    );
  }
  // mkdtemp makes its folder 0700; workload users must be able to pass through it to their own folder.
  root = mkdtempSync(join(tmpdir(), 'meridian-procrt-'));
  chmodSync(root, 0o711);
  dataDir = join(root, 'agent');
});

afterAll(async () => {
  if (!root) return;
  try {
    for (const workload of await runtime().list()) await runtime().remove(workload.workloadId);
    for (const pid of [...pidsOf('nb_bob'), ...pidsOf('dep_sleep')]) process.kill(pid, 'SIGKILL');
  } finally {
    for (const pid of escaped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}, 30_000);

describe('ProcessRuntime with a real Jupyter server', () => {
  let pid = '';

  it('serves the notebook on loopback and answers only requests carrying its token', async () => {
    const started = await runtime().start(notebook);
    pid = started.ref;
    const healthy = await runtime().waitForHealthy('nb_bob', probe);
    expect(healthy.endpoint?.host).toBe('127.0.0.1');
    const url = `http://127.0.0.1:${healthy.endpoint?.port}/api/status`;

    const withToken = await fetch(url, { headers: probe.headers });
    expect(withToken.status).toBe(200);
    expect(await withToken.json()).toHaveProperty('started');
    expect([401, 403]).toContain((await fetch(url)).status);
    expect([401, 403]).toContain((await fetch(url, { headers: { Authorization: 'token wrong' } })).status);
    // The token is in the environment, never in the world-readable command line.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(token);
  });

  it('runs the server as an unprivileged user of its own, owning only its own 0700 folder', async () => {
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    expect(uid).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);
    expect(uid).toBeLessThanOrEqual(WORKLOAD_UID_MAX);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^CapEff:\s+0+$/m);
    const volume = statSync(join(root, 'workloads', 'volumes', 'nb_bob-home'));
    expect([volume.uid, volume.mode & 0o777]).toEqual([uid, 0o700]);
    // Its own network namespace: not the host's (the agent's) one.
    expect(readFileSync(`/proc/${pid}/net/dev`, 'utf8')).not.toBe(readFileSync('/proc/self/net/dev', 'utf8'));
  });

  it('writes the server output to its log', async () => {
    expect(await runtime().logs('nb_bob', 200)).toMatch(/Jupyter Server [\d.]+ is running/);
  });

  it('lets a restarted agent adopt the live server instead of starting a second', async () => {
    const restarted = runtime();
    const adopted = await restarted.adopt();
    expect(adopted.map((w) => [w.workloadId, w.state, w.ref])).toEqual([['nb_bob', 'running', pid]]);
    expect((await restarted.start(notebook)).ref).toBe(pid);
    expect(pidsOf('nb_bob')).toEqual([Number(pid)]);
  });

  it('keeps the working dir across stop and start, and stop ends the process', async () => {
    const { endpoint } = await runtime().waitForHealthy('nb_bob', probe);
    const contents = `http://127.0.0.1:${endpoint?.port}/api/contents/notes.txt`;
    const put = await fetch(contents, {
      method: 'PUT',
      headers: { ...probe.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'kept' }),
    });
    expect(put.status).toBeLessThan(300);

    await runtime().stop('nb_bob', 5);
    expect(await gone(Number(pid))).toBe(true);
    expect(pidsOf('nb_bob')).toEqual([]);
    expect((await runtime().list()).map((w) => [w.workloadId, w.state])).toEqual([['nb_bob', 'stopped']]);

    const again = await runtime().start(notebook);
    expect(again.ref).not.toBe(pid);
    const healthy = await runtime().waitForHealthy('nb_bob', probe);
    const read = await fetch(`http://127.0.0.1:${healthy.endpoint?.port}/api/contents/notes.txt`, {
      headers: probe.headers,
    });
    expect(await read.json()).toMatchObject({ content: 'kept' });

    await runtime().remove('nb_bob');
    expect(await gone(Number(again.ref))).toBe(true);
    expect(await runtime().list()).toEqual([]);
  });
});

describe('ProcessRuntime removing a workload whose user left a process outside its group', () => {
  it('kills that process before it removes the runtime dir, so it cannot swap a folder there for a link', async () => {
    const started = await runtime().start({
      ...notebook,
      workloadId: 'dep_escape',
      command: ['sleep', '1000'],
      volume: undefined,
    });
    const owner = await new WorkloadUsers().find('dep_escape');
    if (!owner) throw new Error('the workload has no user');
    const runDir = join(root, 'workloads', 'run', 'dep_escape');
    // A process of the workload's user in a session (and process group) of its own, as a tenant's setsid or
    // double fork leaves: the runtime's signal to the workload's group does not reach it.
    const child = spawn(
      'setpriv',
      [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--', 'setsid', 'sleep', '1000'],
      { stdio: 'ignore' },
    );
    const leftover = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error('no pid'))));
    });
    escaped.push(leftover);
    await sleep(200);
    const stat = readFileSync(`/proc/${leftover}/stat`, 'utf8');
    const [pgrp] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(2);
    expect(Number(pgrp)).toBe(leftover); // its own group: not the workload's
    expect(Number(pgrp)).not.toBe(Number(started.ref));
    expect(readFileSync(`/proc/${leftover}/status`, 'utf8')).toMatch(
      new RegExp(`^Uid:\\s+${owner.uid}\\s`, 'm'),
    );

    await runtime().remove('dep_escape');

    expect(await gone(leftover)).toBe(true);
    expect(await gone(Number(started.ref))).toBe(true);
    expect(existsSync(runDir)).toBe(false);
    expect(await runtime().list()).toEqual([]);
  });
});

describe('ProcessRuntime adoption', () => {
  it('drops records whose process died while the agent was down', async () => {
    const sleeper = await runtime().start({
      ...notebook,
      workloadId: 'dep_sleep',
      command: ['sleep', '30'],
      volume: undefined,
    });
    process.kill(Number(sleeper.ref), 'SIGKILL');
    expect(await gone(Number(sleeper.ref))).toBe(true);

    expect(await runtime().adopt()).toEqual([]);
    expect(await runtime().list()).toEqual([]);
  });

  it('does not adopt a recycled pid that belongs to another process', async () => {
    // The test runner itself stands in for an unrelated process that got the recorded pid.
    const stat = await readProcStat(process.pid);
    await new ProcessRecordStore(join(dataDir, 'records')).write({
      workloadId: 'nb_recycled',
      kind: 'notebook',
      pid: process.pid,
      startTicks: stat?.startTicks ?? null,
      socket: join(root, 'none.sock'),
      workdir: root,
      logFile: join(root, 'none.log'),
      labels: {},
    });
    expect(await runtime().adopt()).toEqual([]);
    expect(await runtime().list()).toEqual([]);
  });

  it('fails clearly when the command does not exist', async () => {
    await expect(
      runtime().start({ ...notebook, workloadId: 'nb_missing', command: ['/nonexistent/jupyter'] }),
    ).rejects.toThrow(/ENOENT/);
  });
});

describe('the shared temp dirs a workload gets its own over', () => {
  it('covers /tmp and /var/tmp, but never one holding the workloads root (it would hide the workload’s files)', () => {
    expect(tmpCovers('/var/lib/meridian/workloads')).toEqual(['/tmp', '/var/tmp']);
    expect(tmpCovers('/tmp/meridian-x/workloads')).toEqual(['/var/tmp']);
    expect(tmpCovers('/var/../tmp/w')).toEqual(['/var/tmp']);
    expect(tmpCovers('/tmpfiles/w')).toEqual(['/tmp', '/var/tmp']);
  });
});
