import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { demuxDockerLogs } from '../docker-options.js';

const run = promisify(execFile);
const scripts = resolve(import.meta.dirname, '../../../../scripts');

/** A real Docker engine on a private socket under a temp dir, with the locally built test images. */
export interface TestDockerEngine {
  docker: Docker;
  socketPath: string;
  /** How long dockerd took to answer /_ping, and the image build after it. */
  startMs: number;
  buildMs: number;
  stop(): Promise<void>;
}

/**
 * Starts dockerd via scripts/dockerd.sh and builds meridian-test/busybox-http:1 via
 * scripts/build-test-images.sh. Fails (never skips) when the engine cannot run here.
 */
export async function startTestDockerEngine(): Promise<TestDockerEngine> {
  if (!existsSync('/usr/sbin/dockerd') || !existsSync('/bin/busybox')) {
    throw new Error(
      'dockerd or busybox is missing: run `node scripts/ensure-system-deps.mjs` as root (docker.io, busybox-static)',
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error('the docker runtime tests start their own dockerd and must run as root');
  }
  const dir = mkdtempSync(join(tmpdir(), 'meridian-dockerd-'));
  const socketPath = join(dir, 'docker.sock');
  const stop = async () => {
    // Tenant networks' host bridges outlive the engine (and its data dir) unless removed here, and each
    // holds a subnet that the next engine on this host then cannot use.
    const docker = new Docker({ socketPath });
    const networks = await docker
      .listNetworks({ filters: { label: ['meridian.agent-id'] } })
      .catch(() => [] as Docker.NetworkInspectInfo[]);
    for (const network of networks) {
      const info = await docker
        .getNetwork(network.Id)
        .inspect()
        .catch(() => undefined);
      for (const id of Object.keys(info?.Containers ?? {})) {
        await docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined);
      }
      await docker
        .getNetwork(network.Id)
        .remove()
        .catch(() => undefined);
    }
    await run(join(scripts, 'dockerd.sh'), ['stop', dir], { timeout: 30_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const started = performance.now();
    await run(join(scripts, 'dockerd.sh'), ['start', dir], { timeout: 30_000 });
    const startMs = performance.now() - started;
    await run(join(scripts, 'build-test-images.sh'), [`unix://${socketPath}`], { timeout: 60_000 });
    const buildMs = performance.now() - started - startMs;
    return { docker: new Docker({ socketPath }), socketPath, startMs, buildMs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs a command in a running container and returns its demultiplexed output. */
export async function execInContainer(
  docker: Docker,
  containerId: string,
  cmd: string[],
): Promise<{ output: string; exitCode: number | null }> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((done, fail) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', done);
    stream.on('error', fail);
  });
  const { ExitCode } = await exec.inspect();
  return { output: demuxDockerLogs(Buffer.concat(chunks)), exitCode: ExitCode };
}
