import type Docker from 'dockerode';
import { ensureTenantFirewall, ensureTenantNetwork, pruneTenantNetworks } from './docker-network.js';
import {
  buildCreateOptions,
  type DockerPlacement,
  demuxDockerLogs,
  LABEL_NETWORK,
  LABEL_PORT,
  LABEL_VOLUME,
} from './docker-options.js';
import { followContainerOutput } from './docker-output.js';
import { pollHealthy, WorkloadNotFoundError } from './health.js';
import { type IsolationStatus, IsolationUnavailableError } from './isolation.js';
import {
  type HealthProbe,
  LABEL_AGENT_ID,
  LABEL_KIND,
  LABEL_WORKLOAD_ID,
  type OutputFollower,
  type OutputSink,
  type Workload,
  type WorkloadKind,
  type WorkloadSpec,
  type WorkloadSupervisor,
} from './types.js';
import type { WorkloadDirs } from './workload-dirs.js';
import { type WorkloadIdentity, WorkloadUsers } from './workload-users.js';

export interface DockerRuntimeOptions {
  docker: Docker;
  agentId: string;
  /** Where notebook volumes live on this host (bind-mounted, owned by each workload's user). */
  workloads: WorkloadDirs;
  users?: WorkloadUsers;
  /**
   * Where a notebook's volume is mounted (and HOME points). Default /home/jovyan/work, as in Jupyter's
   * docker-stacks images and meridian/notebook, which serves its notebooks from there.
   */
  volumeMountPath?: string;
  /**
   * Host folders mounted read-only into every container (host path → container path): a GPU driver's
   * libraries, or, in tests, the host's /usr so Debian's own Jupyter runs without a registry.
   */
  readOnlyHostPaths?: Record<string, string>;
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
  private readonly users: WorkloadUsers;
  private isolation: Promise<IsolationStatus> | undefined;

  constructor(private readonly options: DockerRuntimeOptions) {
    this.docker = options.docker;
    this.users = options.users ?? new WorkloadUsers();
    this.placement = {
      agentId: options.agentId,
      volumeMountPath: options.volumeMountPath ?? '/home/jovyan/work',
      ...(options.readOnlyHostPaths ? { readOnlyHostPaths: options.readOnlyHostPaths } : {}),
    };
  }

  /**
   * Whether containers can be isolated here: root (workload users, volume ownership) and the host firewall
   * rule that keeps tenant networks off the host's own addresses. Checked once.
   */
  isolationStatus(): Promise<IsolationStatus> {
    this.isolation ??= (async (): Promise<IsolationStatus> => {
      const uid = process.getuid?.() ?? -1;
      if (uid !== 0) return { ok: false, reason: `the agent runs as uid ${uid}, not root` };
      try {
        await ensureTenantFirewall();
        await this.options.workloads.prepare();
        return { ok: true };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { ok: false, reason: `cannot fence tenant networks off the host (iptables): ${message}` };
      }
    })();
    return this.isolation;
  }

  async start(spec: WorkloadSpec): Promise<Workload> {
    const existing = await this.find(spec.workloadId);
    if (existing?.State === 'running' && existing.Labels[LABEL_NETWORK]) return this.toWorkload(existing);
    // A stopped container may carry an older spec (or predate isolation); a fresh one picks up the new one.
    if (existing) await tolerate([404, 409], () => this.container(existing).remove({ force: true }));
    const isolation = await this.isolationStatus();
    if (!isolation.ok) throw new IsolationUnavailableError(isolation.reason);
    const userKey = spec.volume ?? spec.workloadId;
    const owner = await this.users.ensure(userKey, this.options.workloads.volumeDir(userKey));
    // Root walks the volume (handing it over) and empties the run dir next: no process of this user may be
    // alive then, or it could swap a folder there for a link to /etc between root's check and its listing.
    // Nothing of the user legitimately runs here now: this workload's running container returned above (a
    // stopped one is removed), and a notebook's earlier workload, the only other of its user, is stopped
    // before the next starts; what is left (a second container, an orphan) goes, or this start fails.
    await this.users.killProcesses(owner);
    const volumeDir = spec.volume ? await this.options.workloads.ownVolume(spec.volume, owner) : undefined;
    const modelDir = spec.modelFile
      ? await this.placeModelFile(spec.workloadId, spec.modelFile, owner)
      : undefined;
    const network = await ensureTenantNetwork(
      this.docker,
      this.placement.agentId,
      spec.tenant ?? spec.workloadId,
    );
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(
        buildCreateOptions(spec, this.placement, {
          network,
          uid: owner.uid,
          gid: owner.gid,
          ...(volumeDir ? { volumeDir } : {}),
          ...(modelDir ? { modelDir } : {}),
        }),
      );
    } catch (error) {
      const status = engineStatus(error);
      // 409: a concurrent start() created it first (same name); that one is the workload.
      if (status === 409) return this.startExisting(spec.workloadId);
      if (status === 404) {
        // The platform's notebook image is built on each host, never pulled: say how.
        const hint = spec.image?.startsWith('meridian/notebook:')
          ? ' (build it here: scripts/build-notebook-image.sh <docker host>)'
          : '';
        throw new Error(`workload ${spec.workloadId}: image ${spec.image} is not on this host${hint}`, {
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
    // Removing the container killed its processes; a second container or process of the same user would
    // still be alive while root walks the user's files, so those go too (before the user is deleted).
    const owner = await this.users.find(volume ?? workloadId);
    if (owner) await this.users.killProcesses(owner);
    if (options.deleteVolume && volume) {
      await this.options.workloads.removeVolume(volume);
      await this.users.remove(volume);
    }
    if (!volume) await this.users.remove(workloadId);
    await this.options.workloads.removeRunDir(workloadId);
  }

  async list(): Promise<Workload[]> {
    const infos = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_AGENT_ID}=${this.placement.agentId}`] },
    });
    return infos.map((info) => this.toWorkload(info));
  }

  async followOutput(workloadId: string, sink: OutputSink): Promise<OutputFollower | undefined> {
    const info = await this.find(workloadId);
    return info && followContainerOutput(this.container(info), sink);
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
    await pruneTenantNetworks(this.docker, this.placement.agentId);
    return undesired.map((w) => w.workloadId);
  }

  /**
   * The workload's own copy of its model file, in its fresh run dir: readable by its user alone, read-only
   * (0400 in a 0500 folder), so nothing it does reaches the agent's cache or another workload's copy.
   */
  private async placeModelFile(workloadId: string, source: string, owner: WorkloadIdentity): Promise<string> {
    await this.options.workloads.freshRunDir(workloadId, owner, { modelFile: source });
    return this.options.workloads.modelDir(workloadId);
  }

  private async startExisting(workloadId: string): Promise<Workload> {
    const info = await this.find(workloadId);
    if (!info) throw new WorkloadNotFoundError(workloadId);
    if (info.State !== 'running') await tolerate([304], () => this.container(info).start());
    const fresh = await this.find(workloadId);
    if (!fresh) throw new WorkloadNotFoundError(workloadId);
    return this.toWorkload(fresh);
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
    // Reached on its tenant network's address: nothing is published on the host's interfaces.
    const network = info.Labels[LABEL_NETWORK];
    const address = network ? info.NetworkSettings?.Networks?.[network]?.IPAddress : undefined;
    const running = info.State === 'running' && Boolean(address);
    // The engine's own summary is the only place a listing gives it: "Exited (137) 5 seconds ago".
    const exitCode = info.State === 'exited' ? /^Exited \((-?\d+)\)/.exec(info.Status)?.[1] : undefined;
    return {
      workloadId: info.Labels[LABEL_WORKLOAD_ID] ?? '',
      kind: kindOf(info.Labels[LABEL_KIND]),
      state: running ? 'running' : 'stopped',
      endpoint: running && address ? { host: address, port: Number(info.Labels[LABEL_PORT]) } : null,
      labels: info.Labels,
      ref: info.Id,
      ...(exitCode === undefined ? {} : { exitCode: Number(exitCode) }),
    };
  }
}
