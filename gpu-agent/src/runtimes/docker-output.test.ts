import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadLogs } from '../agent/workload-logs.js';
import { DockerRuntime } from './docker-runtime.js';
import { startTestDockerEngine, type TestDockerEngine } from './testing/docker-engine.js';
import { WorkloadDirs } from './workload-dirs.js';

// A real dockerd (scripts/dockerd.sh) and the locally built busybox image: a container writing to stdout and
// stderr, followed into the agent's WorkloadLogs as the docker runtime feeds them.
let engine: TestDockerEngine | undefined;
let root = '';
let runtime: DockerRuntime;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'meridian-dockerlogs-'));
  chmodSync(root, 0o711);
  engine = await startTestDockerEngine();
  runtime = new DockerRuntime({
    docker: engine.docker,
    agentId: 'agt_dockerlogs',
    workloads: new WorkloadDirs(join(root, 'workloads')),
  });
}, 90_000);

afterAll(async () => {
  try {
    await runtime?.remove('dep_talker');
  } finally {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

describe('a container’s output', () => {
  it('reaches the workload’s log line by line, stdout and stderr apart, as it is written', async () => {
    const script =
      'echo started; echo oops >&2; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';
    const started = await runtime.start({
      workloadId: 'dep_talker',
      kind: 'model-server',
      image: 'meridian-test/busybox-http:1',
      command: ['sh', '-c', script],
      env: {},
      gpus: { count: 0, deviceIds: [] },
      port: 8080,
      labels: {},
      tenant: 'org_logs',
    });
    const inspect = await engine?.docker.getContainer(started.ref).inspect();
    // The engine's own copy is bounded too.
    expect(inspect?.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '2m', 'max-file': '2' },
    });
    const logs = new WorkloadLogs(join(root, 'workload-logs'));
    const follower = await runtime.followOutput('dep_talker', {
      writer: (stream) => logs.writer('dep_talker', stream),
    });
    const lines = () => logs.read('dep_talker', {}).map((l) => `${l.stream}: ${l.line}`);
    await expect
      .poll(lines, { timeout: 10_000 })
      .toEqual(expect.arrayContaining(['stdout: started', 'stderr: oops', 'stdout: tick 3']));
    const seen = lines().length;
    await expect.poll(() => lines().length, { timeout: 5_000 }).toBeGreaterThan(seen);
    follower?.stop();
  }, 60_000);
});
