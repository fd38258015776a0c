import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCreateOptions } from './docker-options.js';
import { DockerRuntime } from './docker-runtime.js';
import { execInContainer, startTestDockerEngine, type TestDockerEngine } from './testing/docker-engine.js';
import { startLeftoverSwapper } from './testing/leftover-process.js';
import { LABEL_AGENT_ID, type WorkloadSpec } from './types.js';
import { processesOf } from './uid-processes.js';
import { WorkloadDirs } from './workload-dirs.js';
import { WORKLOAD_UID_MIN, WorkloadUsers } from './workload-users.js';

/** Runs just before root lists a folder: where a leftover process of the workload's user gets its chance. */
let beforeListing: ((path: string) => Promise<void>) | undefined;
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    readdir: async (...args: Parameters<typeof real.readdir>) => {
      await beforeListing?.(String(args[0]));
      return real.readdir(...args);
    },
  };
});

// A real dockerd on a private socket (scripts/dockerd.sh) and an image built locally from busybox-static
// (scripts/build-test-images.sh): httpd serving /v2/health/ready stands in for an OIP model server.
const AGENT_ID = 'agt_dockertest';
const IMAGE = 'meridian-test/busybox-http:1';

let engine: TestDockerEngine | undefined;
let root = '';
const workloads = () => new WorkloadDirs(join(root, 'workloads'));
function docker() {
  if (!engine) throw new Error('dockerd did not start (see beforeAll)');
  return engine.docker;
}
function runtime() {
  return new DockerRuntime({ docker: docker(), agentId: AGENT_ID, workloads: workloads() });
}
function spec(overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    workloadId: 'dep_model1',
    kind: 'model-server',
    image: IMAGE,
    env: { MODEL_NAME: 'iris' },
    gpus: { count: 0, deviceIds: [] },
    memoryBytes: 64 * 1024 ** 2,
    cpus: 0.5,
    port: 8080,
    labels: { 'meridian.deployment': 'dep_model1' },
    tenant: 'org_test',
    ...overrides,
  };
}
async function ourContainers(workloadId?: string) {
  const label = [`${LABEL_AGENT_ID}=${AGENT_ID}`];
  if (workloadId) label.push(`meridian.workload-id=${workloadId}`);
  return docker().listContainers({ all: true, filters: { label } });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'meridian-dockerrt-'));
  chmodSync(root, 0o711);
  engine = await startTestDockerEngine();
  console.info(
    `dockerd ready in ${Math.round(engine.startMs)} ms, test images built in ${Math.round(engine.buildMs)} ms`,
  );
}, 90_000);

afterAll(async () => {
  if (!engine) return;
  try {
    for (const info of await ourContainers()) {
      await docker().getContainer(info.Id).remove({ force: true });
    }
  } finally {
    await engine.stop();
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

describe('DockerRuntime model server', () => {
  it('starts the image hardened, with limits and labels, and turns healthy on its tenant network', async () => {
    const workload = await runtime().start(spec());
    const healthy = await runtime().waitForHealthy('dep_model1', {
      path: '/v2/health/ready',
      timeoutMs: 15_000,
    });
    const response = await fetch(
      `http://${healthy.endpoint?.host}:${healthy.endpoint?.port}/v2/health/ready`,
    );
    expect(await response.text()).toBe('ready\n');

    const inspect = await docker().getContainer(workload.ref).inspect();
    expect(inspect.Config.Labels).toMatchObject({
      'meridian.workload-id': 'dep_model1',
      'meridian.agent-id': AGENT_ID,
      'meridian.kind': 'model-server',
      'meridian.deployment': 'dep_model1',
    });
    expect(inspect.Config.Env).toContain('MODEL_NAME=iris');
    expect(Number(inspect.Config.User.split(':')[0])).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);
    expect(inspect.HostConfig).toMatchObject({
      Memory: 64 * 1024 ** 2,
      NanoCpus: 500_000_000,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      PidsLimit: 1024,
      NetworkMode: `meridian-${AGENT_ID}-org_test`,
    });
    expect(inspect.HostConfig.Tmpfs).toHaveProperty('/tmp');
    expect(inspect.HostConfig.DeviceRequests ?? []).toEqual([]);
    // Nothing published on the host; the agent reaches it on the internal network of its org.
    expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});
    const network = await docker().getNetwork(`meridian-${AGENT_ID}-org_test`).inspect();
    expect(network.Internal).toBe(true);
    expect(healthy.endpoint?.host).toBe(
      inspect.NetworkSettings.Networks[`meridian-${AGENT_ID}-org_test`]?.IPAddress,
    );
  });

  it('returns the container logs, stdout and stderr demultiplexed', async () => {
    const logs = await runtime().logs('dep_model1', 50);
    // The first line is exactly what the image echoed: no 8-byte frame header in front of it.
    expect(logs.split('\n')[0]).toBe('busybox-http serving on :8080');
    expect(logs).toContain('response:200'); // httpd -v logs each health probe on stderr
  });

  it('lets a restarted agent adopt the running container instead of starting a second', async () => {
    const before = await ourContainers('dep_model1');
    const restarted = runtime(); // a new instance: no memory of the first one
    const adopted = await restarted.adopt();
    expect(adopted.map((w) => [w.workloadId, w.state])).toEqual([['dep_model1', 'running']]);

    const again = await restarted.start(spec());
    expect(again.ref).toBe(before[0]?.Id);
    expect(await ourContainers('dep_model1')).toHaveLength(1);
  });

  it('removes containers whose workload is no longer desired and keeps the desired ones', async () => {
    await runtime().start(spec({ workloadId: 'dep_model2', labels: {} }));
    const removed = await runtime().removeUndesired(new Set(['dep_model2']));
    expect(removed).toEqual(['dep_model1']);
    expect((await runtime().list()).map((w) => w.workloadId)).toEqual(['dep_model2']);
    await runtime().remove('dep_model2');
    expect(await ourContainers()).toHaveLength(0);
  });

  it('mounts the workload’s own read-only copy of its model file, its user’s alone on the host', async () => {
    const cached = join(root, 'cached-model');
    writeFileSync(cached, 'onnx bytes', { mode: 0o600 });
    const workload = await runtime().start(spec({ workloadId: 'dep_model3', labels: {}, modelFile: cached }));
    const read = await execInContainer(docker(), workload.ref, ['cat', '/meridian/model/model']);
    expect(read).toEqual({ output: 'onnx bytes', exitCode: 0 });
    const modelDir = workloads().modelDir('dep_model3');
    for (const [path, mode] of [
      [join(modelDir, 'model'), 0o400],
      [modelDir, 0o500],
      [workloads().runDir('dep_model3'), 0o700],
    ] as const) {
      const info = statSync(path);
      expect(info.uid).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);
      expect(info.mode & 0o777).toBe(mode);
    }
    await runtime().remove('dep_model3');
    expect(() => statSync(workloads().runDir('dep_model3'))).toThrow(/ENOENT/);
  });

  it('says which image is missing instead of pulling from a registry', async () => {
    await expect(
      runtime().start(spec({ workloadId: 'dep_noimage', image: 'meridian-test/absent:1' })),
    ).rejects.toThrow(/image meridian-test\/absent:1 is not on this host/);
  });
});

describe('DockerRuntime notebook', () => {
  const notebook = spec({
    workloadId: 'nb_alice',
    kind: 'notebook',
    volume: 'meridian-nb-alice',
    labels: {},
  });

  it('keeps the notebook volume, owned by the notebook user and private, across stop and start', async () => {
    const first = await runtime().start(notebook);
    const write = await execInContainer(docker(), first.ref, [
      'sh',
      '-c',
      'echo kept > /home/jovyan/work/notes.txt',
    ]);
    expect(write.exitCode).toBe(0);
    const volume = statSync(join(root, 'workloads', 'volumes', 'meridian-nb-alice'));
    expect(volume.uid).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);
    expect(volume.mode & 0o777).toBe(0o700);

    await runtime().stop('nb_alice', 2);
    const [stopped] = await runtime().list();
    expect(stopped).toMatchObject({ workloadId: 'nb_alice', state: 'stopped', endpoint: null });

    const second = await runtime().start(notebook);
    expect(second.state).toBe('running');
    const read = await execInContainer(docker(), second.ref, ['cat', '/home/jovyan/work/notes.txt']);
    expect(read.output).toBe('kept\n');

    await runtime().remove('nb_alice', { deleteVolume: true });
    expect(() => statSync(join(root, 'workloads', 'volumes', 'meridian-nb-alice'))).toThrow(/ENOENT/);
  });

  it('kills a process its user left running before root hands it the volume, so it cannot swap in a link', async () => {
    const legacy = spec({
      workloadId: 'nb_legacy',
      kind: 'notebook',
      volume: 'meridian-nb-legacy',
      labels: {},
    });
    const volumeDir = workloads().volumeDir('meridian-nb-legacy');
    await workloads().prepare();
    const owner = await new WorkloadUsers().ensure('meridian-nb-legacy', volumeDir);
    // Files carried over from an older layout, still root's: handing them over walks the tree.
    mkdirSync(join(volumeDir, 'sub'), { recursive: true, mode: 0o700 });
    writeFileSync(join(volumeDir, 'sub', 'notes.txt'), 'kept');
    // Stands in for /etc: a folder of root's files the user must never get.
    const hostDir = join(root, 'host-etc');
    mkdirSync(hostDir, { mode: 0o700 });
    writeFileSync(join(hostDir, 'shadow'), 'root:secret', { mode: 0o600 });
    // A process of the notebook's user from an earlier run (a second container, or one that escaped its
    // group): when root, once the volume is the user's, lists `sub`, it swaps `sub` for a link to hostDir.
    const leftover = await startLeftoverSwapper(owner, volumeDir, 'sub', hostDir);
    let swapped = false;
    beforeListing = async (path) => {
      if (path === join(volumeDir, 'sub')) swapped ||= await leftover.swap();
    };
    try {
      await runtime().start(legacy);
      beforeListing = undefined;
      const shadow = statSync(join(hostDir, 'shadow'));
      expect({ uid: shadow.uid, text: readFileSync(join(hostDir, 'shadow'), 'utf8') }).toEqual({
        uid: 0,
        text: 'root:secret',
      });
      expect(swapped).toBe(false);
      expect((await processesOf(owner.uid)).includes(leftover.pid)).toBe(false);
      expect(statSync(join(volumeDir, 'sub', 'notes.txt')).uid).toBe(owner.uid);
    } finally {
      beforeListing = undefined;
      await leftover.kill();
      await runtime().remove('nb_legacy', { deleteVolume: true });
    }
  });
});

describe('DockerRuntime GPUs', () => {
  // No NVIDIA driver or container toolkit here, so a GPU container cannot start: the test creates it (the
  // engine stores the request) and checks what the engine recorded, without starting it.
  it('asks the engine for the pinned NVIDIA devices when the workload has GPUs', async () => {
    const gpu = spec({ workloadId: 'dep_gpu', gpus: { count: 2, deviceIds: ['GPU-aaaa', 'GPU-bbbb'] } });
    const placement = { agentId: AGENT_ID, volumeMountPath: '/home/jovyan/work' };
    const container = await docker().createContainer(
      buildCreateOptions(gpu, placement, { network: 'none', uid: WORKLOAD_UID_MIN, gid: WORKLOAD_UID_MIN }),
    );
    try {
      const inspect = await container.inspect();
      expect(inspect.HostConfig.DeviceRequests).toEqual([
        expect.objectContaining({
          Driver: 'nvidia',
          DeviceIDs: ['GPU-aaaa', 'GPU-bbbb'],
          Capabilities: [['gpu']],
        }),
      ]);
    } finally {
      await container.remove({ force: true });
    }
  });

  it('asks for a GPU count when no devices are pinned', () => {
    const options = buildCreateOptions(
      spec({ gpus: { count: 1, deviceIds: [] } }),
      { agentId: AGENT_ID, volumeMountPath: '/w' },
      { network: 'none', uid: WORKLOAD_UID_MIN, gid: WORKLOAD_UID_MIN },
    );
    expect(options.HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', Count: 1, Capabilities: [['gpu']] },
    ]);
  });
});
