/** What a workload is: an interactive notebook server or a custom model-server image speaking OIP v2. */
export type WorkloadKind = 'notebook' | 'model-server';

/** Labels every container the agent starts carries, so a restarted agent finds its own and nothing else. */
export const LABEL_WORKLOAD_ID = 'meridian.workload-id';
export const LABEL_AGENT_ID = 'meridian.agent-id';
export const LABEL_KIND = 'meridian.kind';
/** The GPU UUIDs a workload was pinned to, comma-separated: a restarted agent knows which devices it holds. */
export const LABEL_GPUS = 'meridian.gpus';

/**
 * Where a model server finds the model file it serves (read-only, its own copy): MERIDIAN_MODEL_PATH. The
 * file is handed over on disk, since a tenant network reaches nothing outside it to download from.
 */
export const MODEL_MOUNT_DIR = '/meridian/model';
export const MODEL_FILE_NAME = 'model';

/** Everything a runtime needs to start one workload. Runtime-agnostic: docker and process runtimes read it. */
export interface WorkloadSpec {
  /** Stable id from the control plane; at most one running instance per id per agent. */
  workloadId: string;
  kind: WorkloadKind;
  /** Container image (docker runtime). */
  image?: string;
  /**
   * argv. Docker: overrides the image's CMD. Process runtime: required; `{host}`, `{port}` and `{workdir}`
   * in any argument are replaced with the bind address, the host port chosen for it and the working dir.
   */
  command?: string[];
  env: Record<string, string>;
  /** GPUs to expose. `deviceIds` (nvidia-smi UUIDs or indexes) pins devices; empty asks for any `count`. */
  gpus: { count: number; deviceIds: string[] };
  memoryBytes?: number;
  /** Fractional CPUs, e.g. 1.5. */
  cpus?: number;
  /** Most processes and threads the workload may run at once (a fork bomb stays inside it). */
  pidsLimit?: number;
  /**
   * The tenant (organisation) it belongs to: containers of one tenant share a network of their own, and
   * nothing else. Absent: a network of the workload's own.
   */
  tenant?: string;
  /** Port the workload listens on inside its container; the agent reaches it on the container's address. */
  port: number;
  /**
   * Persistent storage that survives stop/start (a notebook's files): a folder of the workloads root owned
   * by the workload's user. Docker bind-mounts it at the runtime's notebook path; the process runtime uses
   * it as the working dir and HOME.
   */
  volume?: string;
  /**
   * A model server's model file on this host (the agent's cache): a copy owned by the workload's user is
   * mounted read-only at MODEL_MOUNT_DIR/MODEL_FILE_NAME. Docker runtime only.
   */
  modelFile?: string;
  /** Extra labels; the meridian.* labels above always win. */
  labels: Record<string, string>;
}

export type WorkloadState = 'running' | 'stopped';

/** A workload as the runtime sees it now: what `list()` and `adopt()` return. */
export interface Workload {
  workloadId: string;
  kind: WorkloadKind;
  state: WorkloadState;
  /** Where the workload's port answers on this host; null while stopped. */
  endpoint: { host: string; port: number } | null;
  labels: Record<string, string>;
  /** Container id or pid, for logs and operators. */
  ref: string;
  /** How a stopped workload ended, where the runtime knows (a container's exit code). */
  exitCode?: number;
}

/** An HTTP readiness check: `GET path` must answer 2xx. Headers carry e.g. a notebook's token. */
export interface HealthProbe {
  path: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/**
 * Starts and supervises workloads on this host (docker containers or plain child processes). Every method
 * is idempotent: starting a running workload returns it, stopping or removing an absent one is a no-op.
 */
export interface WorkloadSupervisor {
  /** Starts the workload, or returns it when one with the same id already runs (never a second copy). */
  start(spec: WorkloadSpec): Promise<Workload>;
  /** Asks the workload to stop (SIGTERM), kills it after `graceSeconds`. Its volume stays. */
  stop(workloadId: string, graceSeconds: number): Promise<void>;
  /** Forgets a workload (stopping it first, without grace). `deleteVolume` also drops its storage. */
  remove(workloadId: string, options?: { deleteVolume?: boolean }): Promise<void>;
  /** Workloads this agent owns, running or stopped. */
  list(): Promise<Workload[]>;
  /** The last `tail` lines of the workload's stdout and stderr. */
  logs(workloadId: string, tail: number): Promise<string>;
  /**
   * When a client last sent the workload anything through this host's relay (ms since the epoch), for idle
   * culling; the agent's own reads do not count. Runtimes whose clients reach the workload directly omit it.
   */
  lastTraffic?(workloadId: string): number | undefined;
  /**
   * Feeds the workload's stdout and stderr, from its start, to `sink` as they come, until the follower is
   * stopped or the workload is removed; undefined when the workload is not known.
   */
  followOutput?(workloadId: string, sink: OutputSink): Promise<OutputFollower | undefined>;
  /** Resolves once the probe answers 2xx; throws on timeout or when the workload exits meanwhile. */
  waitForHealthy(workloadId: string, probe: HealthProbe): Promise<Workload>;
  /** After an agent restart: the workloads left by the previous run, cleaned of dead leftovers. */
  adopt(): Promise<Workload[]>;
  /** Removes every owned workload whose id is not desired; returns the removed ids. */
  removeUndesired(desiredIds: ReadonlySet<string>): Promise<string[]>;
}

/** A stream of a workload's output, cut into lines by the receiver (chunks may end anywhere). */
export interface OutputWriter {
  write(chunk: Uint8Array | string): void;
  end(): void;
}

/** Where a workload's output goes as it comes: a writer per stream (`output` where both share one file). */
export interface OutputSink {
  writer(stream: 'stdout' | 'stderr' | 'output'): OutputWriter;
}

/** A running follow of a workload's output. */
export interface OutputFollower {
  stop(): void;
}
