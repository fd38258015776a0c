import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from './docker-runtime.js';
import { notebookEnv } from './jupyter.js';
import { execInContainer, startTestDockerEngine, type TestDockerEngine } from './testing/docker-engine.js';
import { attackScript, runInKernel } from './testing/jupyter-kernel.js';
import {
  bindMetadataAddress,
  listenOn,
  METADATA_ADDRESS,
  type TestListener,
} from './testing/metadata-address.js';
import type { WorkloadSpec } from './types.js';
import { WorkloadDirs } from './workload-dirs.js';

// Hostile containers on a real Docker engine: a tenant's container tries to reach another org's model
// server, the cloud metadata address (bound on the host's loopback device, as a cloud host routes it) and the
// agent's state. First with Docker's defaults (what the runtime used to create: the shared default bridge),
// where the network attacks work; then as the docker runtime now runs tenant containers, where all fail.
// The images are busybox (no registry here): `nc` stands in for a notebook cell's socket.
const AGENT_ID = 'agt_dockeriso';
let engine: TestDockerEngine | undefined;
let root = '';
let unbindMetadata: () => Promise<void> = async () => {};
let metadata: TestListener | undefined;
const plain: Docker.Container[] = [];

function docker() {
  if (!engine) throw new Error('dockerd did not start (see beforeAll)');
  return engine.docker;
}
const runtime = () =>
  new DockerRuntime({
    docker: docker(),
    agentId: AGENT_ID,
    workloads: new WorkloadDirs(join(root, 'workloads')),
  });
const spec = (workloadId: string, tenant: string, overrides: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  workloadId,
  kind: 'model-server',
  image: 'meridian-test/busybox-http:1',
  env: {},
  gpus: { count: 0, deviceIds: [] },
  memoryBytes: 64 * 1024 ** 2,
  cpus: 0.5,
  port: 8080,
  tenant,
  labels: {},
  ...overrides,
});

/** `ok` when a TCP connection to host:port opens from inside the container, else what nc said. */
async function reach(containerId: string, host: string, port: number): Promise<string> {
  const { output, exitCode } = await execInContainer(docker(), containerId, [
    'sh',
    '-c',
    `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port} >/dev/null && echo ok`,
  ]);
  return exitCode === 0 && output.trim() === 'ok' ? 'ok' : output.trim() || `exit ${exitCode}`;
}

/**
 * `reach`, tried again until it is `ok` or 20 s pass (what it said last, then): for the cases that show a
 * connection opens. A container's server listens some time after Docker says it started, which on a loaded
 * machine can be after a first try.
 */
async function reachOnceListening(containerId: string, host: string, port: number): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const said = await reach(containerId, host, port);
    if (said === 'ok' || Date.now() > deadline) return said;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A container as Docker creates it by default (root, every default capability, the default bridge). */
async function startPlain(image: string, cmd?: string[]): Promise<Docker.ContainerInspectInfo> {
  const container = await docker().createContainer({ Image: image, ...(cmd ? { Cmd: cmd } : {}) });
  plain.push(container);
  await container.start();
  return container.inspect();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'meridian-dockeriso-'));
  chmodSync(root, 0o711);
  mkdirSync(join(root, 'agent'), { mode: 0o700 });
  writeFileSync(join(root, 'agent', 'credential.json'), '{"credential":"mac_secret"}', { mode: 0o600 });
  engine = await startTestDockerEngine();
  unbindMetadata = await bindMetadataAddress();
  metadata = await listenOn(METADATA_ADDRESS);
}, 90_000);

afterAll(async () => {
  await metadata?.close();
  await unbindMetadata();
  if (!engine) return;
  try {
    for (const c of plain) await c.remove({ force: true }).catch(() => undefined);
    for (const w of await runtime().list()) await runtime().remove(w.workloadId);
    await runtime().removeUndesired(new Set());
  } finally {
    await engine.stop();
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

describe('a hostile container', () => {
  it('first: with Docker defaults, one tenant reaches another’s model server and the metadata address', async () => {
    const victim = await startPlain('meridian-test/busybox-http:1');
    const attacker = await startPlain('meridian-test/busybox:1', ['sleep', '300']);
    const victimIp = victim.NetworkSettings.Networks.bridge?.IPAddress ?? '';
    expect(await reachOnceListening(attacker.Id, victimIp, 8080)).toBe('ok');
    expect(await reachOnceListening(attacker.Id, METADATA_ADDRESS, metadata?.port ?? 0)).toBe('ok');
    // A port of the host on the bridge's gateway address: where an agent listening on 0.0.0.0 answers.
    const hostPort = await listenOn(victim.NetworkSettings.Networks.bridge?.Gateway ?? '');
    try {
      expect(await reachOnceListening(attacker.Id, hostPort.host, hostPort.port)).toBe('ok');
    } finally {
      await hostPort.close();
    }
    expect((await execInContainer(docker(), attacker.Id, ['sh', '-c', 'id -u'])).output.trim()).toBe('0');
  }, 60_000);

  it('then: as the docker runtime runs it, it reaches neither, nor the host, and runs as nobody in particular', async () => {
    const victim = await runtime().start(spec('dep_b', 'org_b'));
    await runtime().waitForHealthy('dep_b', { path: '/v2/health/ready', timeoutMs: 15_000 });
    const attacker = await runtime().start(
      spec('nb_a', 'org_a', {
        kind: 'notebook',
        image: 'meridian-test/busybox:1',
        command: ['sleep', '300'],
      }),
    );
    const gateway = (await docker().getContainer(attacker.ref).inspect()).NetworkSettings.Networks[
      `meridian-${AGENT_ID}-org_a`
    ]?.Gateway;

    // The agent (the host) still reaches its own workload, on the internal network's address.
    const ready = await fetch(`http://${victim.endpoint?.host}:${victim.endpoint?.port}/v2/health/ready`);
    expect(ready.status).toBe(200);

    // A host port on the org network's own gateway address: the host (the agent) reaches it, a container not.
    const hostPort = await listenOn(gateway ?? '');
    const fromHost = await fetch(`http://${hostPort.host}:${hostPort.port}/`).then((r) => r.status);
    expect(fromHost).toBe(200);
    const attempts = {
      otherOrgModelServer: await reach(attacker.ref, victim.endpoint?.host ?? '', 8080),
      metadata: await reach(attacker.ref, METADATA_ADDRESS, metadata?.port ?? 0),
      hostThroughGateway: await reach(attacker.ref, hostPort.host, hostPort.port),
    };
    await hostPort.close();
    console.info('attacks from an isolated container:', attempts);
    expect(attempts.otherOrgModelServer).not.toBe('ok');
    expect(attempts.metadata).not.toBe('ok');
    expect(attempts.hostThroughGateway).not.toBe('ok');

    const inside = await execInContainer(docker(), attacker.ref, [
      'sh',
      '-c',
      `id -u; cat ${join(root, 'agent', 'credential.json')} 2>&1; touch /bin/x 2>&1; tr '\\0' ' ' </proc/1/cmdline`,
    ]);
    const [uid, credential, write, init] = inside.output.trim().split('\n');
    expect(Number(uid)).toBeGreaterThanOrEqual(200_000);
    expect(credential).toMatch(/No such file/); // the agent's state is not in its filesystem at all
    expect(write).toMatch(/Read-only file system/);
    // Its own pid namespace (pid 1 is its own init): no other workload's /proc/<pid>/environ to read.
    expect(init).toMatch(/init.* sleep 300/);
  }, 90_000);
  it('and with Debian’s real Jupyter in such a container, a notebook cell gets none of it either', async () => {
    // No registry here: the busybox image with the host's /usr mounted read-only runs Debian's jupyter-server.
    const jupyter = new DockerRuntime({
      docker: docker(),
      agentId: AGENT_ID,
      workloads: new WorkloadDirs(join(root, 'workloads')),
      readOnlyHostPaths: { '/usr': '/usr', '/usr/lib': '/lib', '/usr/lib64': '/lib64' },
    });
    const token = randomBytes(24).toString('hex');
    const base = '/notebooks/nb_jupyter/';
    await jupyter.start(
      spec('nb_jupyter', 'org_a', {
        kind: 'notebook',
        image: 'meridian-test/busybox:1',
        command: [
          '/usr/bin/jupyter-server',
          '--ip=0.0.0.0',
          '--port=8888',
          '--no-browser',
          '--ServerApp.root_dir=/home/jovyan/work',
          `--ServerApp.base_url=${base}`,
        ],
        env: { ...notebookEnv(token), PATH: '/usr/bin:/bin' },
        port: 8888,
        volume: 'volume-jupyter',
        memoryBytes: 1024 ** 3,
        cpus: 1,
      }),
    );
    const notebook = await jupyter.waitForHealthy('nb_jupyter', { path: `${base}api`, timeoutMs: 60_000 });
    const victim = (await runtime().list()).find((w) => w.workloadId === 'dep_b');
    const victimPid = (
      await docker()
        .getContainer(victim?.ref ?? '')
        .inspect()
    ).State.Pid;
    const gateway = (
      await docker()
        .getContainer((await jupyter.list()).find((w) => w.workloadId === 'nb_jupyter')?.ref ?? '')
        .inspect()
    ).NetworkSettings.Networks[`meridian-${AGENT_ID}-org_a`]?.Gateway;
    const hostPort = await listenOn(gateway ?? '');
    try {
      const script = attackScript({
        read: {
          credential: join(root, 'agent', 'credential.json'),
          otherWorkloadEnviron: `/proc/${victimPid}/environ`,
        },
        connect: {
          otherOrgModelServer: { host: victim?.endpoint?.host ?? '', port: 8080 },
          metadata: { host: METADATA_ADDRESS, port: metadata?.port ?? 0 },
          hostThroughGateway: { host: hostPort.host, port: hostPort.port },
        },
      });
      const url = `http://${notebook.endpoint?.host}:${notebook.endpoint?.port}${base}`;
      const result = JSON.parse(await runInKernel(url, token, script, 60_000)) as Record<string, string>;
      console.info('attacks from a notebook cell in a container:', result);
      expect(result.credential).toMatch(/^FileNotFoundError/);
      expect(result.otherWorkloadEnviron).toMatch(/^(FileNotFoundError|PermissionError)/);
      expect(result.otherOrgModelServer).toMatch(/^(TimeoutError|OSError|ConnectionRefusedError)/);
      expect(result.metadata).toMatch(/^(TimeoutError|OSError|ConnectionRefusedError)/);
      expect(result.hostThroughGateway).toMatch(/^(TimeoutError|OSError|ConnectionRefusedError)/);
    } finally {
      await hostPort.close();
      await jupyter.remove('nb_jupyter', { deleteVolume: true });
    }
  }, 150_000);
});
