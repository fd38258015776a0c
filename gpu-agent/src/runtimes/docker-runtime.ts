import type Docker from 'dockerode';
import {
  buildCreateOptions,
  type DockerPlacement,
  demuxDockerLogs,
  LABEL_PORT,
  LABEL_VOLUME,
} from './docker-options.js';
import { pollHealthy, WorkloadNotFoundError } from './health.js';
import {
  type HealthProbe,
  LABEL_AGENT_ID,
  LABEL_KIND,
  LABEL_WORKLOAD_ID,
  type Workload,
  type WorkloadKind,
  type WorkloadSpec,
  type WorkloadSupervisor,
} from './types.js';

export interface DockerRuntimeOptions {
  docker: Docker;
  agentId: string;
  /** Interface published ports bind to. Default 127.0.0.1: only the agent's data plane reaches them. */
  publishHost?: string;
  /** Where a notebook's volume is mounted. Default /home/jovyan/work, the Jupyter docker-stacks home. */
  volumeMountPath?: string;
}

/** The engine's HTTP status on a failed call (dockerode sets `statusCode`), if it has one. */
function engineStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  return typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

/** Runs `call`, treating the listed engine statuses (404 gone, 304 already stopped, ...) as done. */
async function tolerate(statuses: number[], call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const status = engineStatus(error);
    if (status === undefined || !statuses.includes(status)) throw error;
  }
}

function kindOf(value: string | undefined): WorkloadKind {
  return value === 'notebook' ? 'notebook' : 'model-server';
}

/**
 * Workloads as docker containers (dockerode). The engine is the only source of truth: containers carry
 * meridian.* labels, so a restarted agent (a new instance) sees exactly what the previous one left.
 */
export class DockerRuntime implements WorkloadSupervisor {
  private readonly docker: Docker;
  private readonly placement: DockerPlacement;

  constructor(options: DockerRuntimeOptions) {
    this.docker = options.docker;
    this.placement = {
      agentId: options.agentId,
      publishHost: options.publishHost ?? '127.0.0.1',
      volumeMountPath: options.volumeMountPath ?? '/home/jovyan/work',
    };
  }

  async start(spec: WorkloadSpec): Promise<Workload> {
    const existing = await this.find(spec.workloadId);
    if (existing?.State === 'running') return this.toWorkload(existing);
    // A stopped container may carry an older spec; a fresh one picks up the new one, the volume stays.
    if (existing) await tolerate([404, 409], () => this.container(existing).remove({ force: true }));
    if (spec.volume) await this.ensureVolume(spec);
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(buildCreateOptions(spec, this.placement));
    } catch (error) {
      const status = engineStatus(error);
      // 409: a concurrent start() created it first (same name); that one is the workload.
      if (status === 409) return this.startExisting(spec.workloadId);
      if (status === 404) {
        throw new Error(`workload ${spec.workloadId}: image ${spec.image} is not on this host`, {
          cause: error,
        });
      }
      throw error;
    }
    await tolerate([304], () => container.start());
    return this.startExisting(spec.workloadId);
  }

  async stop(workloadId: string, graceSeconds: number): Promise<void> {
    const info = await this.find(workloadId);
    if (!info) return;
    // The engine sends the image's stop signal (SIGTERM), then SIGKILL after `t` seconds.
    await tolerate([304, 404], () => this.container(info).stop({ t: Math.max(0, Math.round(graceSeconds)) }));
  }

  async remove(workloadId: string, options: { deleteVolume?: boolean } = {}): Promise<void> {
    const info = await this.find(workloadId);
    if (!info) return;
    await tolerate([404, 409], () => this.container(info).remove({ force: true }));
    const volume = info.Labels[LABEL_VOLUME];
    if (options.deleteVolume && volume) {
      await tolerate([404], () => this.docker.getVolume(volume).remove());
    }
  }

  async list(): Promise<Workload[]> {
    const infos = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_AGENT_ID}=${this.placement.agentId}`] },
    });
    return infos.map((info) => this.toWorkload(info));
  }

  async logs(workloadId: string, tail: number): Promise<string> {
    const info = await this.find(workloadId);
    if (!info) throw new WorkloadNotFoundError(workloadId);
    const raw = await this.container(info).logs({
      stdout: true,
      stderr: true,
      follow: false,
      tail: Math.max(0, tail),
    });
    return demuxDockerLogs(raw);
  }

  waitForHealthy(workloadId: string, probe: HealthProbe): Promise<Workload> {
    return pollHealthy(workloadId, probe, async () => {
      const info = await this.find(workloadId);
      return info ? this.toWorkload(info) : undefined;
    });
  }

  /** The engine keeps containers across agent restarts, so adopting is listing what carries our agent id. */
  adopt(): Promise<Workload[]> {
    return this.list();
  }

  async removeUndesired(desiredIds: ReadonlySet<string>): Promise<string[]> {
    const undesired = (await this.list()).filter((w) => !desiredIds.has(w.workloadId));
    for (const workload of undesired) await this.remove(workload.workloadId);
    return undesired.map((w) => w.workloadId);
  }

  private async startExisting(workloadId: string): Promise<Workload> {
    const info = await this.find(workloadId);
    if (!info) throw new WorkloadNotFoundError(workloadId);
    if (info.State !== 'running') await tolerate([304], () => this.container(info).start());
    const fresh = await this.find(workloadId);
    if (!fresh) throw new WorkloadNotFoundError(workloadId);
    return this.toWorkload(fresh);
  }

  private async ensureVolume(spec: WorkloadSpec): Promise<void> {
    // Creating an existing named volume returns it unchanged, so this is idempotent.
    await this.docker.createVolume({
      Name: spec.volume,
      Labels: {
        [LABEL_AGENT_ID]: this.placement.agentId,
        [LABEL_WORKLOAD_ID]: spec.workloadId,
      },
    });
  }

  private async find(workloadId: string): Promise<Docker.ContainerInfo | undefined> {
    const infos = await this.docker.listContainers({
      all: true,
      filters: {
        label: [`${LABEL_AGENT_ID}=${this.placement.agentId}`, `${LABEL_WORKLOAD_ID}=${workloadId}`],
      },
    });
    return infos[0];
  }

  private container(info: Docker.ContainerInfo): Docker.Container {
    return this.docker.getContainer(info.Id);
  }

  private toWorkload(info: Docker.ContainerInfo): Workload {
    const running = info.State === 'running';
    const privatePort = Number(info.Labels[LABEL_PORT]);
    const published = info.Ports.find((p) => p.PrivatePort === privatePort && p.PublicPort > 0);
    const host = !published?.IP || published.IP === '0.0.0.0' ? '127.0.0.1' : published.IP;
    return {
      workloadId: info.Labels[LABEL_WORKLOAD_ID] ?? '',
      kind: kindOf(info.Labels[LABEL_KIND]),
      state: running ? 'running' : 'stopped',
      endpoint: running && published ? { host, port: published.PublicPort } : null,
      labels: info.Labels,
      ref: info.Id,
    };
  }
}
