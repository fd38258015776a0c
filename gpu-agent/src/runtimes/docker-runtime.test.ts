import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCreateOptions } from './docker-options.js';
import { DockerRuntime } from './docker-runtime.js';
import { execInContainer, startTestDockerEngine, type TestDockerEngine } from './testing/docker-engine.js';
import { LABEL_AGENT_ID, type WorkloadSpec } from './types.js';

// A real dockerd on a private socket (scripts/dockerd.sh) and an image built locally from busybox-static
// (scripts/build-test-images.sh): httpd serving /v2/health/ready stands in for an OIP model server.
const AGENT_ID = 'agt_dockertest';
const IMAGE = 'meridian-test/busybox-http:1';

let engine: TestDockerEngine | undefined;
function docker() {
  if (!engine) throw new Error('dockerd did not start (see beforeAll)');
  return engine.docker;
}
function runtime() {
  return new DockerRuntime({ docker: docker(), agentId: AGENT_ID });
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
    ...overrides,
  };
}
async function ourContainers(workloadId?: string) {
  const label = [`${LABEL_AGENT_ID}=${AGENT_ID}`];
  if (workloadId) label.push(`meridian.workload-id=${workloadId}`);
  return docker().listContainers({ all: true, filters: { label } });
}

beforeAll(async () => {
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
  }
}, 60_000);

describe('DockerRuntime model server', () => {
  it('starts the image with limits and labels and turns healthy on a loopback port', async () => {
    const workload = await runtime().start(spec());
    const healthy = await runtime().waitForHealthy('dep_model1', {
      path: '/v2/health/ready',
      timeoutMs: 15_000,
    });
    expect(healthy.endpoint?.host).toBe('127.0.0.1');
    const response = await fetch(`http://127.0.0.1:${healthy.endpoint?.port}/v2/health/ready`);
    expect(await response.text()).toBe('ready\n');

    const inspect = await docker().getContainer(workload.ref).inspect();
    expect(inspect.Config.Labels).toMatchObject({
      'meridian.workload-id': 'dep_model1',
      'meridian.agent-id': AGENT_ID,
      'meridian.kind': 'model-server',
      'meridian.deployment': 'dep_model1',
    });
    expect(inspect.Config.Env).toContain('MODEL_NAME=iris');
    expect(inspect.HostConfig.Memory).toBe(64 * 1024 ** 2);
    expect(inspect.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspect.HostConfig.DeviceRequests ?? []).toEqual([]);
    expect(inspect.HostConfig.PortBindings).toEqual({
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
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

  it('keeps the notebook volume across stop and start', async () => {
    const first = await runtime().start(notebook);
    const write = await execInContainer(docker(), first.ref, [
      'sh',
      '-c',
      'echo kept > /home/jovyan/work/notes.txt',
    ]);
    expect(write.exitCode).toBe(0);

    await runtime().stop('nb_alice', 2);
    const [stopped] = await runtime().list();
    expect(stopped).toMatchObject({ workloadId: 'nb_alice', state: 'stopped', endpoint: null });

    const second = await runtime().start(notebook);
    expect(second.state).toBe('running');
    const read = await execInContainer(docker(), second.ref, ['cat', '/home/jovyan/work/notes.txt']);
    expect(read.output).toBe('kept\n');

    await runtime().remove('nb_alice', { deleteVolume: true });
    const volumes = await docker().listVolumes();
    expect(volumes.Volumes.map((v) => v.Name)).not.toContain('meridian-nb-alice');
  });
});

describe('DockerRuntime GPUs', () => {
  // No NVIDIA driver or container toolkit here, so a GPU container cannot start: the test creates it (the
  // engine stores the request) and checks what the engine recorded, without starting it.
  it('asks the engine for the pinned NVIDIA devices when the workload has GPUs', async () => {
    const gpu = spec({ workloadId: 'dep_gpu', gpus: { count: 2, deviceIds: ['GPU-aaaa', 'GPU-bbbb'] } });
    const placement = { agentId: AGENT_ID, publishHost: '127.0.0.1', volumeMountPath: '/home/jovyan/work' };
    const container = await docker().createContainer(buildCreateOptions(gpu, placement));
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
    const options = buildCreateOptions(spec({ gpus: { count: 1, deviceIds: [] } }), {
      agentId: AGENT_ID,
      publishHost: '127.0.0.1',
      volumeMountPath: '/w',
    });
    expect(options.HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', Count: 1, Capabilities: [['gpu']] },
    ]);
  });
});
