import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DesiredWorkload, type WorkloadPhase, WorkloadStatus } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../runtimes/docker-runtime.js';
import { readProcStat } from '../runtimes/process-records.js';
import { ProcessRuntime } from '../runtimes/process-runtime.js';
import { startTestDockerEngine, type TestDockerEngine } from '../runtimes/testing/docker-engine.js';
import { LABEL_AGENT_ID, LABEL_WORKLOAD_ID } from '../runtimes/types.js';
import { WorkloadDirs } from '../runtimes/workload-dirs.js';
import { silentLogger } from './logger.js';
import { Reconciler } from './reconciler.js';
import { JUPYTER_SERVER, SupervisedRuntime } from './supervised-runtime.js';
import { UsageMeter } from './usage-meter.js';
import { WorkloadStore } from './workload-store.js';

// A real dockerd (scripts/dockerd.sh) running the busybox httpd image that answers /v2/health/ready like an
// OIP model server, and a real Jupyter server (Debian's jupyter-server) as a plain process, both on loopback.
const OWNER = 'agt_supervised';
const MODEL_ID = 'wl_busybox';
const NOTEBOOK_ID = 'wl_notebook';

let engine: TestDockerEngine | undefined;
let dir = '';

function docker() {
  if (!engine) throw new Error('dockerd did not start (see beforeAll)');
  return engine.docker;
}
const containersOf = (workloadId: string) =>
  docker().listContainers({
    all: true,
    filters: { label: [`${LABEL_AGENT_ID}=${OWNER}`, `${LABEL_WORKLOAD_ID}=${workloadId}`] },
  });

const modelWorkload: DesiredWorkload = {
  kind: 'model',
  workloadId: MODEL_ID,
  deploymentId: 'dep_busybox',
  gpuType: 'cpu',
  gpuCount: 0,
  image: 'meridian-test/busybox-http:1',
  model: {
    versionId: 'mdv_1',
    format: 'pytorch',
    runtime: 'container',
    sha256: 'a'.repeat(64),
    sizeBytes: 1,
  },
};
/** The allow-lists the control plane sends: the test images are platform images here. */
const images = { platform: ['meridian-test/busybox-http:1', 'meridian-test/busybox'], byOrg: {} };
const NOTEBOOK_TOKEN = randomBytes(24).toString('hex');
const notebookWorkload: DesiredWorkload = {
  kind: 'notebook',
  workloadId: NOTEBOOK_ID,
  notebookId: 'nb_alice',
  image: 'jupyter/base-notebook',
  gpuType: 'cpu',
  gpuCount: 0,
  idleTimeoutSeconds: 3600,
  token: NOTEBOOK_TOKEN,
  basePath: '/notebooks/nb_alice/',
};

/** What one agent process builds over `dataDir` (as main.ts does), with the phases each workload went through. */
function agentOn(dataDir: string, runtime: SupervisedRuntime) {
  const phases: WorkloadPhase[] = [];
  const usage = new UsageMeter();
  const reconciler: Reconciler = new Reconciler({
    runtimes: [runtime],
    store: new WorkloadStore(dataDir),
    usage,
    hostHasGpus: () => false,
    log: silentLogger,
    onChange: () => {
      const phase = reconciler.statuses()[0]?.phase;
      if (phase && phases.at(-1) !== phase) phases.push(phase);
    },
  });
  return { reconciler, phases, usage };
}
const dockerRuntime = () =>
  new SupervisedRuntime({
    name: 'docker',
    supervisor: new DockerRuntime({ docker: docker(), agentId: OWNER, workloads: workloadDirs() }),
    stopGraceSeconds: 1,
    modelHealthTimeoutMs: 30_000,
    exitCheckIntervalMs: 200,
  });
const workloadDirs = () => new WorkloadDirs(join(dir, 'workloads'));
const processSupervisor = () =>
  new ProcessRuntime({
    dataDir: join(dir, 'process-agent', 'processes'),
    agentId: OWNER,
    workloads: workloadDirs(),
  });
const processRuntime = () =>
  new SupervisedRuntime({
    name: 'process',
    supervisor: processSupervisor(),
    stopGraceSeconds: 2,
    notebookHealthTimeoutMs: 30_000,
    exitCheckIntervalMs: 200,
  });

/** The reconciler's status of its one workload once it is no longer `ready` (within `ms`). */
async function untilNotReady(reconciler: Reconciler, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [status] = reconciler.statuses();
    if (status?.phase !== 'ready') return status;
    await sleep(50);
  }
  return reconciler.statuses()[0];
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const stat = await readProcStat(pid);
    if (!stat || stat.state === 'Z') return true;
    await sleep(50);
  }
  return false;
}

beforeAll(async () => {
  if (!existsSync(JUPYTER_SERVER)) throw new Error(`${JUPYTER_SERVER} is missing: install jupyter-server`);
  dir = await mkdtemp(join(tmpdir(), 'meridian-supervised-'));
  await chmod(dir, 0o711); // workload users pass through it to their own folders
  engine = await startTestDockerEngine();
}, 120_000);

afterAll(async () => {
  try {
    if (engine) {
      const ours = await docker().listContainers({
        all: true,
        filters: { label: [`${LABEL_AGENT_ID}=${OWNER}`] },
      });
      for (const info of ours) await docker().getContainer(info.Id).remove({ force: true });
    }
    if (dir) await processSupervisor().removeUndesired(new Set());
  } finally {
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

describe('SupervisedRuntime on a real Docker engine', () => {
  const dataDir = () => join(dir, 'docker-agent');
  let containerId = '';

  it('brings a model-server image up through pulling and loading to ready', async () => {
    const { reconciler, phases } = agentOn(dataDir(), dockerRuntime());
    await reconciler.apply({ version: 1, workloads: [modelWorkload], images });
    await reconciler.idle();

    expect(reconciler.statuses()).toMatchObject([{ workloadId: MODEL_ID, phase: 'ready' }]);
    expect(phases).toEqual(['pulling', 'loading', 'ready']);
    const containers = await containersOf(MODEL_ID);
    expect(containers).toHaveLength(1);
    expect(containers[0]?.State).toBe('running');
    expect(containers[0]?.Ports.every((p) => p.IP === undefined || p.IP === '127.0.0.1')).toBe(true);
    containerId = containers[0]?.Id ?? '';
  }, 60_000);

  it('is adopted by an agent started again on the same data dir, without a second container', async () => {
    // The first agent was "killed": nothing of it is used again but its data dir and the engine.
    const { reconciler } = agentOn(dataDir(), dockerRuntime());
    await reconciler.restore();
    await reconciler.apply({ version: 1, workloads: [modelWorkload], images });
    await reconciler.idle();

    expect(reconciler.statuses()).toMatchObject([{ workloadId: MODEL_ID, phase: 'ready' }]);
    const containers = await containersOf(MODEL_ID);
    expect(containers.map((c) => c.Id)).toEqual([containerId]);
    expect(containers[0]?.State).toBe('running');

    await reconciler.apply({ version: 2, workloads: [] });
    await reconciler.idle();
    expect(reconciler.statuses()).toEqual([]);
    expect(await containersOf(MODEL_ID)).toHaveLength(0);
  }, 60_000);

  it('removes a container nobody wants any more once the first desired state arrives', async () => {
    const orphanDir = join(dir, 'orphan-agent');
    const first = agentOn(orphanDir, dockerRuntime());
    await first.reconciler.apply({ version: 1, workloads: [modelWorkload], images });
    await first.reconciler.idle();
    expect(await containersOf(MODEL_ID)).toHaveLength(1);
    // Its record is lost (a wiped data dir): the next agent cannot know it ran, only the engine does.
    await rm(orphanDir, { recursive: true, force: true });

    const { reconciler } = agentOn(orphanDir, dockerRuntime());
    await reconciler.restore();
    await reconciler.apply({ version: 1, workloads: [] });
    expect(await containersOf(MODEL_ID)).toHaveLength(0);
  }, 60_000);

  it('reports a model server that exits after it was ready as failed, with its exit code and last output', async () => {
    const { reconciler, phases, usage } = agentOn(join(dir, 'docker-crash'), dockerRuntime());
    const crashing = { ...modelWorkload, workloadId: 'wl_busybox_crash' };
    await reconciler.apply({ version: 1, workloads: [crashing], images });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([{ phase: 'ready' }]);
    // Still serving a few checks later: a running container is not taken for an exited one.
    await sleep(600);
    expect(reconciler.statuses()).toMatchObject([{ phase: 'ready' }]);

    const [container] = await containersOf('wl_busybox_crash');
    await docker()
      .getContainer(container?.Id ?? '')
      .kill({ signal: 'SIGKILL' });
    const status = await untilNotReady(reconciler);
    expect(status?.phase).toBe('failed');
    expect(status?.reason).toMatch(
      /^model server image meridian-test\/busybox-http:1 for deployment dep_busybox \(\w+\) exited after it was ready with code 137 \(killed: .*memory limit\); last output: [\s\S]*busybox-http serving on :8080/,
    );
    expect(phases).toEqual(['pulling', 'loading', 'ready', 'failed']);
    // What the control plane will accept in a heartbeat.
    expect(WorkloadStatus.safeParse(status).success).toBe(true);
    // Its host time is metered up to the exit, not after.
    usage.drain();
    await sleep(300);
    expect(usage.drain().filter((e) => e.workloadId === 'wl_busybox_crash')).toEqual([]);

    // Replaced by the control plane: the failed one is removed like any other, container and all.
    await reconciler.apply({ version: 2, workloads: [] });
    await reconciler.idle();
    expect(await containersOf('wl_busybox_crash')).toHaveLength(0);
  }, 60_000);

  it('does not take a container it stops itself for one that exited', async () => {
    const { reconciler, phases } = agentOn(join(dir, 'docker-stop'), dockerRuntime());
    const stopped = { ...modelWorkload, workloadId: 'wl_busybox_stop' };
    await reconciler.apply({ version: 1, workloads: [stopped], images });
    await reconciler.idle();
    await reconciler.apply({ version: 2, workloads: [] });
    await sleep(600);
    expect(phases).toEqual(['pulling', 'loading', 'ready']);
    expect(reconciler.statuses()).toEqual([]);
  }, 60_000);

  it('leaves a ready container running when the agent stops so, for the next agent to take back as it is', async () => {
    const leftDir = join(dir, 'docker-left-running');
    const left = { ...modelWorkload, workloadId: 'wl_busybox_left' };
    const first = agentOn(leftDir, dockerRuntime());
    await first.reconciler.apply({ version: 1, workloads: [left], images });
    await first.reconciler.idle();
    const [before] = await containersOf('wl_busybox_left');
    const startedAt = (
      await docker()
        .getContainer(before?.Id ?? '')
        .inspect()
    ).State.StartedAt;

    await first.reconciler.shutdown({ leaveRunning: true });
    const [after] = await containersOf('wl_busybox_left');
    expect(after?.State).toBe('running');

    const next = agentOn(leftDir, dockerRuntime());
    await next.reconciler.restore();
    await next.reconciler.apply({ version: 1, workloads: [left], images });
    await next.reconciler.idle();
    expect(next.reconciler.statuses()).toMatchObject([{ workloadId: 'wl_busybox_left', phase: 'ready' }]);
    // The same container, never restarted: taken back, not started again.
    expect((await containersOf('wl_busybox_left')).map((c) => c.Id)).toEqual([before?.Id]);
    expect(
      (
        await docker()
          .getContainer(before?.Id ?? '')
          .inspect()
      ).State.StartedAt,
    ).toBe(startedAt);
    // Only the agent that holds it now watches it: the first one reported nothing after it let go.
    expect(first.phases).toEqual(['pulling', 'loading', 'ready']);

    await next.reconciler.apply({ version: 2, workloads: [] });
    await next.reconciler.idle();
    expect(await containersOf('wl_busybox_left')).toHaveLength(0);
  }, 60_000);

  it('hands a notebook image its token in JUPYTER_TOKEN and its base path on the command line', async () => {
    // No Jupyter image can be built here; busybox has no start-notebook.sh, so the start fails, but the
    // container it was created as shows what the engine was asked to run.
    const { reconciler } = agentOn(join(dir, 'docker-notebook'), dockerRuntime());
    const notebook = { ...notebookWorkload, workloadId: 'wl_docker_nb', image: 'meridian-test/busybox:1' };
    await reconciler.apply({ version: 1, workloads: [notebook], images });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([
      { phase: 'failed', reason: expect.stringMatching(/start-notebook\.sh/) },
    ]);
    const [info] = await containersOf('wl_docker_nb');
    const { Config } = await docker()
      .getContainer(info?.Id ?? '')
      .inspect();
    expect(Config.Env).toContain(`JUPYTER_TOKEN=${NOTEBOOK_TOKEN}`);
    expect(Config.Cmd).toEqual(['start-notebook.sh', '--ServerApp.base_url=/notebooks/nb_alice/']);
    await reconciler.apply({ version: 2, workloads: [] });
    expect(await containersOf('wl_docker_nb')).toHaveLength(0);
  }, 30_000);

  it('refuses an image that is neither a platform image nor on its org allow-list, saying so', async () => {
    const { reconciler } = agentOn(join(dir, 'refused-image'), dockerRuntime());
    const other = {
      ...modelWorkload,
      workloadId: 'wl_refused',
      orgId: 'org_a',
      image: 'meridian-test/busybox:1',
    };
    await reconciler.apply({
      version: 1,
      workloads: [other],
      images: { platform: [], byOrg: { org_b: ['meridian-test/busybox'] } },
    });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([
      { phase: 'failed', reason: expect.stringMatching(/meridian-test\/busybox:1 is not allowed/) },
    ]);
    expect(await containersOf('wl_refused')).toHaveLength(0);
    // A repository on the list admits its own tags, not another repository its name is a prefix of.
    await reconciler.apply({ version: 2, workloads: [], images });
    const allowed = { platform: [], byOrg: { org_a: ['meridian-test/busybox'] } };
    await reconciler.apply({
      version: 3,
      workloads: [{ ...other, image: 'meridian-test/busybox-http:1' }],
      images: allowed,
    });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([
      { phase: 'failed', reason: expect.stringMatching(/not allowed/) },
    ]);
    await reconciler.apply({ version: 4, workloads: [], images });
  }, 30_000);

  it('fails with a reason naming the image when the image is not on this host', async () => {
    const { reconciler } = agentOn(join(dir, 'missing-image'), dockerRuntime());
    const missing = { ...modelWorkload, workloadId: 'wl_missing', image: 'meridian-test/absent:1' };
    await reconciler.apply({
      version: 1,
      workloads: [missing],
      images: { ...images, platform: [...images.platform, 'meridian-test/absent:1'] },
    });
    await reconciler.idle();
    const [status] = reconciler.statuses();
    expect(status?.phase).toBe('failed');
    expect(status?.reason).toMatch(/meridian-test\/absent:1.*not on this host/);
    await reconciler.apply({ version: 2, workloads: [] });
  }, 30_000);
});

describe('SupervisedRuntime with plain processes', () => {
  const dataDir = () => join(dir, 'process-agent');
  let pid = 0;

  it('serves a notebook with a real Jupyter server through the reconciler', async () => {
    const { reconciler, phases } = agentOn(dataDir(), processRuntime());
    await reconciler.apply({ version: 1, workloads: [notebookWorkload] });
    await reconciler.idle();

    expect(reconciler.statuses()).toMatchObject([{ workloadId: NOTEBOOK_ID, phase: 'ready' }]);
    expect(phases).toEqual(['pulling', 'loading', 'ready']);
    const [workload] = await processSupervisor().list();
    expect(workload?.workloadId).toBe(NOTEBOOK_ID);
    pid = Number(workload?.ref);
    expect(pid).toBeGreaterThan(0);
    // The token travels in the environment, never in the world-readable command line.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(NOTEBOOK_TOKEN);
  }, 60_000);

  it('reports where the notebook answers, under its base path and behind its token, and its last activity', async () => {
    const { reconciler } = agentOn(dataDir(), processRuntime());
    await reconciler.restore();
    await reconciler.idle();
    const [status] = reconciler.statuses();
    // The agent's relay to the server's unix socket (a port of this runtime instance's own).
    expect(status?.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/notebooks\/nb_alice\/$/);

    const contents = `${status?.endpoint}api/contents`;
    const authorized = await fetch(contents, { headers: { Authorization: `token ${NOTEBOOK_TOKEN}` } });
    expect(authorized.status).toBe(200);
    expect((await fetch(contents)).status).toBe(403);

    const at = status?.lastActivityAt ?? '';
    expect(new Date(at).toISOString()).toBe(at);
    expect(Date.now() - Date.parse(at)).toBeLessThan(10 * 60_000);
    // What the control plane will accept in a heartbeat.
    expect(WorkloadStatus.safeParse(status).success).toBe(true);
  }, 60_000);

  it('is adopted by a new agent (same process) and stopped once no longer desired', async () => {
    const { reconciler } = agentOn(dataDir(), processRuntime());
    await reconciler.restore();
    await reconciler.apply({ version: 1, workloads: [notebookWorkload] });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([{ workloadId: NOTEBOOK_ID, phase: 'ready' }]);
    expect((await processSupervisor().list()).map((w) => w.ref)).toEqual([String(pid)]);

    await reconciler.apply({ version: 2, workloads: [] });
    expect(await gone(pid)).toBe(true);
    expect(await processSupervisor().list()).toEqual([]);
  }, 60_000);

  it("keeps a notebook's kernels when the agent stops leaving it running and the next agent takes it back", async () => {
    const keptDir = join(dir, 'process-left-running');
    const kept = { ...notebookWorkload, workloadId: 'wl_notebook_kept', notebookId: 'nb_kept' };
    const asOwner = { authorization: `token ${NOTEBOOK_TOKEN}` };
    const first = agentOn(keptDir, processRuntime());
    await first.reconciler.apply({ version: 1, workloads: [kept] });
    await first.reconciler.idle();
    const started = await fetch(`${first.reconciler.statuses()[0]?.endpoint}api/kernels`, {
      method: 'POST',
      headers: asOwner,
      body: '{}',
    });
    expect(started.status).toBe(201);
    const kernel = ((await started.json()) as { id: string }).id;
    const pidOf = async () =>
      (await processSupervisor().list()).find((w) => w.workloadId === 'wl_notebook_kept')?.ref;
    const keptPid = await pidOf();

    await first.reconciler.shutdown({ leaveRunning: true });
    const next = agentOn(keptDir, processRuntime());
    await next.reconciler.restore();
    await next.reconciler.apply({ version: 1, workloads: [kept] });
    await next.reconciler.idle();
    const [status] = next.reconciler.statuses();
    expect(status).toMatchObject({ workloadId: 'wl_notebook_kept', phase: 'ready' });
    expect(await pidOf()).toBe(keptPid);
    const kernels = await fetch(`${status?.endpoint}api/kernels`, { headers: asOwner });
    expect(((await kernels.json()) as { id: string }[]).map((k) => k.id)).toEqual([kernel]);

    await next.reconciler.apply({ version: 2, workloads: [] });
    expect(await gone(Number(keptPid))).toBe(true);
  }, 90_000);

  it('reports a notebook server that exits after it was ready as failed, with its last output', async () => {
    const { reconciler } = agentOn(join(dir, 'process-crash'), processRuntime());
    const crashing = { ...notebookWorkload, workloadId: 'wl_notebook_crash', notebookId: 'nb_crash' };
    await reconciler.apply({ version: 1, workloads: [crashing] });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([{ phase: 'ready' }]);
    const workload = (await processSupervisor().list()).find((w) => w.workloadId === 'wl_notebook_crash');
    const crashedPid = Number(workload?.ref);
    expect(crashedPid).toBeGreaterThan(0);

    process.kill(crashedPid, 'SIGKILL');
    const status = await untilNotReady(reconciler);
    expect(status?.phase).toBe('failed');
    expect(status?.reason).toMatch(/^notebook nb_crash \(\d+\) exited after it was ready; last output: \S/);
    // Its endpoint is no longer offered: nothing answers there.
    expect(status?.endpoint).toBeUndefined();

    await reconciler.apply({ version: 2, workloads: [] });
    await reconciler.idle();
    expect((await processSupervisor().list()).map((w) => w.workloadId)).not.toContain('wl_notebook_crash');
  }, 60_000);
});
