import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonApi } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';

const START = fileURLToPath(new URL('../scripts/start.mjs', import.meta.url));

/**
 * `npm start` exactly as the README runs it: the relative default `.data`, resolved against the directory
 * it is started from (a temp dir here, so nothing of the repository's own .data is touched), with a
 * control plane's files of the old layout already there. A notebook created with the default set-up
 * reaches `running` (it used to fail: the relative data dir was joined twice).
 */
describe('npm start with its default, relative data dir', () => {
  let cwd = '';
  let child: ChildProcess | undefined;
  let output = '';
  let cpUrl = '';
  let edgeUrl = '';
  const data = (...parts: string[]) => join(cwd, '.data', ...parts);
  let running: { id: string; endpoint: string; token: string } | undefined;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'meridian-start-'));
    chmodSync(cwd, 0o711); // where a user runs it from is passable, as a home or a checkout is
    // The old layout: the control plane's database at the top of .data, a notebook's files in the agent's dir.
    mkdirSync(data('agent', 'processes', 'volumes', 'meridian-notebook-nb_old'), { recursive: true });
    writeFileSync(data('control-plane.db'), '');
    writeFileSync(data('agent', 'processes', 'volumes', 'meridian-notebook-nb_old', 'kept.txt'), 'mine');
    const [cp, agent, edge, metrics] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    cpUrl = `http://127.0.0.1:${cp}`;
    edgeUrl = `http://127.0.0.1:${edge}`;
    child = spawn(process.execPath, [START], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cwd,
        MERIDIAN_PORT: String(cp),
        MERIDIAN_AGENT_LISTEN_PORT: String(agent),
        MERIDIAN_EDGE_PORT: String(edge),
        MERIDIAN_EDGE_PUBLIC_URL: `http://127.0.0.1:${edge}`,
        MERIDIAN_AGENT_METRICS_LISTEN: `127.0.0.1:${metrics}`,
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
        // Tests run side by side on few cores: the edge's bundling alone can pass start.mjs's default minute.
        MERIDIAN_START_READY_SECONDS: '240',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own, as a terminal's foreground job: Ctrl-C below goes to all of it.
      detached: true,
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const deadline = Date.now() + 300_000;
    while (!output.includes('Ctrl-C stops everything.')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`npm start did not come up:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 360_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  }, 60_000);

  it('keeps the control plane, the agent and workload volumes side by side, the old layout moved', () => {
    expect(output).toContain(
      `Moved the control plane's files of the old layout into ${data('control-plane')}`,
    );
    expect(existsSync(data('control-plane', 'control-plane.db'))).toBe(true);
    expect(existsSync(data('control-plane.db'))).toBe(false);
    expect(statSync(data('control-plane')).mode & 0o777).toBe(0o700);
    expect(statSync(data('agent')).mode & 0o777).toBe(0o700);
    expect(existsSync(data('agent', 'credential.json'))).toBe(true);
    expect(statSync(data('workloads')).mode & 0o777).toBe(0o711);
    // The old notebook folder left the agent's private dir for the workloads root.
    expect(existsSync(data('workloads', 'volumes', 'meridian-notebook-nb_old', 'kept.txt'))).toBe(true);
    expect(existsSync(data('agent', 'processes', 'volumes'))).toBe(false);
  });

  it('runs a notebook created with the default set-up, as its own user, its files in the workloads root', async () => {
    const call = jsonApi(() => cpUrl);
    const reg = await call('', 'POST', '/v1/auth/register', {
      email: 'start@example.com',
      password: 'a long and unusual passphrase 9',
      name: 'start',
    });
    expect(reg.status, reg.text).toBe(201);
    const token = reg.json.accessToken as string;
    const created = await call(token, 'POST', '/v1/notebooks', { name: 'scratch', gpuType: 'cpu' });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;
    let nb = created.json;
    const deadline = Date.now() + 90_000;
    while (nb.status !== 'running') {
      expect(nb.status, `${nb.statusReason}\n${output}`).not.toBe('failed');
      if (Date.now() > deadline)
        throw new Error(`notebook still ${nb.status}: ${nb.statusReason}\n${output}`);
      await new Promise((r) => setTimeout(r, 500));
      nb = (await call(token, 'GET', `/v1/notebooks/${id}`)).json;
    }
    const contents = await fetch(`${nb.endpoint}api/contents`, {
      headers: { authorization: `token ${nb.token}` },
    });
    expect(contents.status).toBe(200);
    // Through the edge too: the edge → agent relay → the server's unix socket. An API client, on the edge's
    // own address (a browser opens the access URL, on the notebook's origin).
    const viaEdge = await fetch(`${edgeUrl}/notebooks/${id}/api/contents`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(viaEdge.status, await viaEdge.clone().text()).toBe(200);
    const volume = statSync(data('workloads', 'volumes', `meridian-notebook-${id}`));
    expect(volume.uid).toBeGreaterThanOrEqual(200_000);
    expect(volume.mode & 0o777).toBe(0o700);
    running = { id, endpoint: nb.endpoint, token: nb.token };
  }, 120_000);

  it('on Ctrl-C stops the agent before the control plane, so a running notebook’s files reach storage', async () => {
    if (!running || !child?.pid) throw new Error('needs the running notebook of the test before');
    const { id, endpoint, token } = running;
    const put = await fetch(`${endpoint}api/contents/before-ctrl-c.txt`, {
      method: 'PUT',
      headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'saved on the way out' }),
    });
    expect(put.status, await put.clone().text()).toBe(201);

    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground job.
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    process.kill(-child.pid, 'SIGINT');
    expect(await exited, output).toBe(0);
    expect(output).not.toMatch(/stopping workload failed|did not stop within/);

    // The control plane's embedded storage keeps objects as files: the notebook's one save, a tar.
    const objects = data('control-plane', 'objects');
    const saves = readdirSync(objects, { recursive: true, encoding: 'utf8' }).filter(
      (p) => p.includes(`notebooks/${id}/volumes/`) && statSync(join(objects, p)).isFile(),
    );
    expect(saves, output).toHaveLength(1);
    const file = execFileSync('tar', ['-xOf', join(objects, saves[0] ?? ''), './before-ctrl-c.txt'], {
      encoding: 'utf8',
    });
    expect(file).toBe('saved on the way out');
  }, 180_000);
});
