import type Docker from 'dockerode';
import {
  LABEL_AGENT_ID,
  LABEL_KIND,
  LABEL_WORKLOAD_ID,
  MODEL_MOUNT_DIR,
  type WorkloadSpec,
} from './types.js';

/** Container port the workload listens on, kept on the container so `list()` can find its published port. */
export const LABEL_PORT = 'meridian.port';
/** Volume of a notebook, kept on the container so `remove({ deleteVolume })` knows what to drop. */
export const LABEL_VOLUME = 'meridian.volume';

/** The tenant network a container joins, kept on it so the runtime can drop networks nobody uses. */
export const LABEL_NETWORK = 'meridian.network';

export interface DockerPlacement {
  agentId: string;
  /** Where a workload's volume is mounted inside the container. */
  volumeMountPath: string;
  /** Host folder → container path, mounted read-only into every container (a driver's libraries, say). */
  readOnlyHostPaths?: Record<string, string>;
}

/** Where and as whom one container runs: decided by the runtime before it asks the engine. */
export interface ContainerIsolation {
  /** The internal network of the workload's tenant. */
  network: string;
  uid: number;
  gid: number;
  /** The workload's volume folder on this host, owned by `uid`. */
  volumeDir?: string;
  /** The folder holding its copy of the model file (a model server), mounted read-only at MODEL_MOUNT_DIR. */
  modelDir?: string;
}

/** Size of the private /tmp of a container whose root is read-only. */
const TMP_BYTES = 512 * 1024 ** 2;
/** A limit on processes and threads even where the workload's size names none. */
export const DEFAULT_PIDS_LIMIT = 1024;

/** Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; ids from the control plane already fit, this is a guard. */
function nameSafe(value: string): string {
  return value.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/** One container per workload per agent: the engine rejects a second container with the same name. */
export function containerName(agentId: string, workloadId: string): string {
  return `meridian-${nameSafe(agentId)}-${nameSafe(workloadId)}`;
}

/**
 * GPU request for the NVIDIA container toolkit, or none for CPU-only workloads (asking for zero GPUs
 * still fails on hosts without the nvidia driver). The engine rejects Count together with DeviceIDs.
 */
export function gpuDeviceRequests(gpus: WorkloadSpec['gpus']): Docker.DeviceRequest[] | undefined {
  if (gpus.count <= 0 && gpus.deviceIds.length === 0) return undefined;
  const request: Docker.DeviceRequest = { Driver: 'nvidia', Capabilities: [['gpu']] };
  if (gpus.deviceIds.length > 0) request.DeviceIDs = [...gpus.deviceIds];
  else request.Count = gpus.count;
  return [request];
}

/**
 * The engine's create request for a workload: labels, GPUs, the volume, and the hardening every tenant
 * container gets: its own non-root uid, no capabilities, no-new-privileges, a read-only root with a private
 * /tmp, pids/memory/CPU limits, and only its tenant's internal network (no published port: the agent
 * reaches it on that network's address).
 */
export function buildCreateOptions(
  spec: WorkloadSpec,
  placement: DockerPlacement,
  isolation: ContainerIsolation,
): Docker.ContainerCreateOptions {
  if (!spec.image) throw new Error(`workload ${spec.workloadId}: the docker runtime needs an image`);
  const portKey = `${spec.port}/tcp`;
  const labels: Record<string, string> = {
    ...spec.labels,
    [LABEL_WORKLOAD_ID]: spec.workloadId,
    [LABEL_AGENT_ID]: placement.agentId,
    [LABEL_KIND]: spec.kind,
    [LABEL_PORT]: String(spec.port),
    [LABEL_NETWORK]: isolation.network,
  };
  if (spec.volume) labels[LABEL_VOLUME] = spec.volume;
  const hostConfig: Docker.HostConfig = {
    NetworkMode: isolation.network,
    // The agent supervises restarts; an engine restart policy would fight its desired state.
    RestartPolicy: { Name: 'no' },
    // A tiny init as PID 1 forwards the stop signal and reaps zombies; many images (busybox httpd, python
    // scripts) would otherwise ignore SIGTERM as PID 1 and always wait out the grace period.
    Init: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    // 1777, as /tmp should be, where the image has none (the engine copies the mode of an image's own /tmp).
    Tmpfs: { '/tmp': `rw,nosuid,nodev,mode=1777,size=${TMP_BYTES}` },
    PidsLimit: spec.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    // The engine's copy of the output stays bounded on disk (the agent keeps its own, see WorkloadLogs).
    LogConfig: { Type: 'json-file', Config: { 'max-size': '2m', 'max-file': '2' } },
  };
  if (spec.memoryBytes !== undefined) {
    hostConfig.Memory = spec.memoryBytes;
    hostConfig.MemorySwap = spec.memoryBytes; // no swap beyond the limit
  }
  if (spec.cpus !== undefined) hostConfig.NanoCpus = Math.round(spec.cpus * 1e9);
  const deviceRequests = gpuDeviceRequests(spec.gpus);
  if (deviceRequests) hostConfig.DeviceRequests = deviceRequests;
  const env = { ...spec.env };
  const mounts: Docker.MountSettings[] = Object.entries(placement.readOnlyHostPaths ?? {}).map(
    ([source, target]) => ({ Type: 'bind', Source: source, Target: target, ReadOnly: true }),
  );
  if (isolation.modelDir)
    mounts.push({ Type: 'bind', Source: isolation.modelDir, Target: MODEL_MOUNT_DIR, ReadOnly: true });
  if (mounts.length > 0) hostConfig.Mounts = mounts;
  if (spec.volume && isolation.volumeDir) {
    hostConfig.Mounts = [
      ...mounts,
      { Type: 'bind', Source: isolation.volumeDir, Target: placement.volumeMountPath },
    ];
    // The image's home may be read-only now; the volume is the one place the workload writes to keep.
    env.HOME = placement.volumeMountPath;
  }
  const options: Docker.ContainerCreateOptions = {
    name: containerName(placement.agentId, spec.workloadId),
    Image: spec.image,
    User: `${isolation.uid}:${isolation.gid}`,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: labels,
    ExposedPorts: { [portKey]: {} },
    HostConfig: hostConfig,
  };
  if (spec.command) options.Cmd = [...spec.command];
  return options;
}

/**
 * Splits the engine's multiplexed log stream (8-byte frame headers: stream id, 3 zero bytes, big-endian
 * length) into text, stdout and stderr interleaved as written. Containers with a TTY send plain text.
 */
export function demuxDockerLogs(buffer: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    if (stream === undefined || stream > 2 || buffer.readUIntBE(offset + 1, 3) !== 0) {
      return buffer.toString('utf8'); // not multiplexed: a TTY container
    }
    const length = buffer.readUInt32BE(offset + 4);
    chunks.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  if (offset < buffer.length) chunks.push(buffer.subarray(offset));
  return Buffer.concat(chunks).toString('utf8');
}
