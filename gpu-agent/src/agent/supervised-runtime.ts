import { availableParallelism, totalmem } from 'node:os';
import type { DesiredModelWorkload, DesiredNotebookWorkload, DesiredWorkload } from '@meridian/protocol';
import type { ModelCache } from '../cache/model-cache.js';
import type { ModelServers } from '../data-plane/model-servers.js';
import {
  installedJupyterCommand,
  jupyterImageCommand,
  jupyterServerCommand,
  notebookEnv,
} from '../runtimes/jupyter.js';
import {
  type HealthProbe,
  LABEL_GPUS,
  MODEL_FILE_NAME,
  MODEL_MOUNT_DIR,
  type Workload,
  type WorkloadSpec,
  type WorkloadSupervisor,
} from '../runtimes/types.js';
import type { GpuLedger } from './gpu-assignment.js';
import { NotebookActivity } from './notebook-activity.js';
import { type NotebookVolumes, notebookVolumeName } from './notebook-volumes.js';
import type { Adopted, RuntimeContext, WorkloadDetails, WorkloadRuntime } from './workload-runtime.js';
import { limitsOf } from './workload-size.js';

/** Debian's jupyter-server package: what the process runtime falls back to without a notebook UI. */
export const JUPYTER_SERVER = '/usr/bin/jupyter-server';
const MODEL_SERVER_PORT = 8080;
const NOTEBOOK_PORT = 8888;
const MODEL_HEALTH_PATH = '/v2/health/ready';
const LOG_LINES_IN_REASON = 5;

export interface SupervisedRuntimeOptions {
  name: 'docker' | 'process';
  supervisor: WorkloadSupervisor;
  /** How long a workload may take to answer its health probe. Default 120 s for models, 60 s for notebooks. */
  modelHealthTimeoutMs?: number;
  notebookHealthTimeoutMs?: number;
  /** Seconds a workload gets to exit on SIGTERM before it is killed. Default 10. */
  stopGraceSeconds?: number;
  /**
   * This host's GPUs and who holds which: a notebook gets exactly the devices assigned here (by UUID). Absent:
   * GPUs are asked for by count and the engine picks.
   */
  gpus?: GpuLedger;
  /** Saves a notebook's files when it stops here and restores them when it starts here. Absent: local only. */
  volumes?: NotebookVolumes;
  /**
   * Where a model server's file comes from (signed URL, sha256 checked, cached): the server gets its own copy
   * on disk, as its tenant network reaches no storage. Absent: model servers get no file (tests).
   */
  modelFiles?: Pick<ModelCache, 'ensure'>;
  /** Where a healthy model server is registered, so the data plane relays its deployment's calls to it. */
  modelServers?: ModelServers;
  /** How often workloads that became healthy are checked for having exited since. Default 2 s. */
  exitCheckIntervalMs?: number;
}

/** A workload that became healthy here: watched until it stops, or until it exits on its own. */
type Watched = { workload: DesiredWorkload; ref: string; ctx: RuntimeContext };

/**
 * The agent's runtime contract on top of a host supervisor (docker containers or plain processes): turns a
 * desired workload into a WorkloadSpec, waits for it to serve, and takes back what a previous agent left.
 */
export class SupervisedRuntime implements WorkloadRuntime {
  readonly name: 'docker' | 'process';
  private readonly supervisor: WorkloadSupervisor;
  /** The supervisor's leftovers, read once: adopt() also drops dead records, so it must not race start(). */
  private leftovers: Promise<Workload[]> | undefined;
  /** Ready notebooks: where they answer and their last activity, for the heartbeat. */
  private readonly notebooks = new Map<string, { endpoint: string; activity: NotebookActivity }>();
  /** Notebooks started or adopted here, by workload: whose files to save when each stops. */
  private readonly volumesOf = new Map<string, { notebookId: string; volume: string }>();
  private readonly watched = new Map<string, Watched>();
  private exitCheck: NodeJS.Timeout | undefined;
  private checkingExits = false;

  constructor(private readonly options: SupervisedRuntimeOptions) {
    this.name = options.name;
    this.supervisor = options.supervisor;
  }

  supports(workload: DesiredWorkload): boolean {
    if (workload.kind === 'notebook') return true;
    // Processes have no image to run a model server from; containers run any image speaking OIP v2.
    return this.name === 'docker' && workload.image !== undefined;
  }

  async start(workload: DesiredWorkload, ctx: RuntimeContext): Promise<void> {
    const spec = this.specOf(workload);
    ctx.report('pulling');
    let started: Workload;
    try {
      if (workload.kind === 'notebook') await this.prepareNotebook(workload, spec);
      else await this.prepareModelFile(workload, spec);
      started = await this.supervisor.start(spec);
    } catch (err) {
      throw new Error(`${describe(workload)} could not start: ${messageOf(err)}`, { cause: err });
    }
    ctx.signal.throwIfAborted();
    await this.track(workload, await this.untilHealthy(workload, started, ctx), ctx);
  }

  async adopt(workload: DesiredWorkload, ctx: RuntimeContext): Promise<Adopted> {
    this.leftovers ??= this.supervisor.adopt();
    const found = (await this.leftovers).find((w) => w.workloadId === workload.workloadId);
    if (found?.state !== 'running') {
      await this.start(workload, ctx);
      return 'started-again';
    }
    if (workload.kind === 'notebook') this.volumesOf.set(workload.workloadId, volumeOf(workload));
    // Its devices stay its own: a notebook started after this one is pinned to others.
    const held = found.labels[LABEL_GPUS];
    if (held) this.options.gpus?.hold(workload.workloadId, held.split(','));
    // It may still have been loading when the previous agent went away: wait, but never start a copy.
    await this.track(workload, await this.untilHealthy(workload, found, ctx), ctx);
    return 'taken-back';
  }

  /**
   * Leaves the workload running for the next agent: it is no longer routed to or watched, and its devices,
   * files and record stay as they are (a notebook's files are saved when it is finally stopped).
   */
  async detach(workloadId: string): Promise<void> {
    this.stopServing(workloadId);
    this.volumesOf.delete(workloadId);
  }

  async stop(workloadId: string): Promise<void> {
    // First, so the exit of the container being stopped here is not taken for a crash.
    this.stopServing(workloadId);
    this.options.gpus?.release(workloadId);
    await this.supervisor.stop(workloadId, this.options.stopGraceSeconds ?? 10);
    const volume = this.volumesOf.get(workloadId);
    this.volumesOf.delete(workloadId);
    let gone = false;
    try {
      // Saved once the server has stopped, so the files are what it last wrote; the next start may be elsewhere.
      if (volume && this.options.volumes)
        gone = (await this.options.volumes.save(volume.notebookId, volume.volume)) === 'gone';
    } finally {
      // The container or process record goes. A notebook's volume (and its user) stays for its next start
      // here too, unless the notebook is gone: a deleted notebook takes its files with it.
      await this.supervisor.remove(workloadId, { deleteVolume: gone });
    }
  }

  /** Removes what the supervisor runs for workloads no longer desired (left by a crash or a lost record). */
  async removeUndesired(desiredIds: ReadonlySet<string>): Promise<string[]> {
    return this.supervisor.removeUndesired(desiredIds);
  }

  details(workloadId: string): WorkloadDetails | undefined {
    const notebook = this.notebooks.get(workloadId);
    if (!notebook) return undefined;
    const lastActivityAt = notebook.activity.lastActivityAt;
    return { endpoint: notebook.endpoint, ...(lastActivityAt === undefined ? {} : { lastActivityAt }) };
  }

  /** A notebook's devices, and its files as last saved (by whichever agent ran it last), before it starts. */
  private async prepareNotebook(workload: DesiredNotebookWorkload, spec: WorkloadSpec): Promise<void> {
    if (this.options.gpus) {
      spec.gpus.deviceIds = await this.options.gpus.assign(
        workload.workloadId,
        workload.gpuType,
        workload.gpuCount,
      );
      if (spec.gpus.deviceIds.length > 0) spec.labels[LABEL_GPUS] = spec.gpus.deviceIds.join(',');
    }
    const volume = volumeOf(workload);
    if (this.options.volumes) await this.options.volumes.restore(volume.notebookId, volume.volume);
    this.volumesOf.set(workload.workloadId, volume);
  }

  /** The model file, fetched into the cache here, for the supervisor to hand the server a copy of. */
  private async prepareModelFile(workload: DesiredModelWorkload, spec: WorkloadSpec): Promise<void> {
    const { model } = workload;
    if (!this.options.modelFiles) return;
    if (!model.downloadUrl) throw new Error(`model version ${model.versionId} came without a download URL`);
    spec.modelFile = await this.options.modelFiles.ensure(model.versionId, {
      url: model.downloadUrl,
      sha256: model.sha256,
      sizeBytes: model.sizeBytes,
    });
    spec.env.MERIDIAN_MODEL_PATH = `${MODEL_MOUNT_DIR}/${MODEL_FILE_NAME}`;
  }

  /**
   * Remembers where a healthy workload answers: a model server for the data plane to relay its calls to, a
   * notebook with its activity read once, so its first heartbeat has it.
   */
  private async track(workload: DesiredWorkload, healthy: Workload, ctx: RuntimeContext): Promise<void> {
    this.watch({ workload, ref: healthy.ref, ctx });
    if (!healthy.endpoint) return;
    const { host, port } = healthy.endpoint;
    const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (workload.kind === 'model') {
      this.options.modelServers?.add({
        workloadId: workload.workloadId,
        name: workload.deploymentId,
        version: workload.model.versionId,
        origin,
      });
      return;
    }
    const endpoint = `${origin}${workload.basePath}`;
    const activity = new NotebookActivity({
      endpoint,
      token: workload.token,
      traffic: () => this.supervisor.lastTraffic?.(workload.workloadId),
    });
    this.notebooks.set(workload.workloadId, { endpoint, activity });
    await activity.refresh();
  }

  /**
   * Watches a healthy workload for exiting on its own (a crash, an out-of-memory kill, a server that quits):
   * the supervisor is asked what still runs every few seconds, one check at a time.
   */
  private watch(entry: Watched): void {
    this.watched.set(entry.workload.workloadId, entry);
    this.exitCheck ??= setInterval(() => void this.checkExits(), this.options.exitCheckIntervalMs ?? 2_000);
    // The agent's shutdown does not wait for it: workloads outlive the agent, to be adopted.
    this.exitCheck.unref();
  }

  /** Nothing is routed to the workload or watched here any more (it is being stopped or left running, or it exited). */
  private stopServing(workloadId: string): void {
    this.unwatch(workloadId);
    this.notebooks.delete(workloadId);
    this.options.modelServers?.remove(workloadId);
  }

  private unwatch(workloadId: string): void {
    this.watched.delete(workloadId);
    if (this.watched.size > 0 || !this.exitCheck) return;
    clearInterval(this.exitCheck);
    this.exitCheck = undefined;
  }

  private async checkExits(): Promise<void> {
    if (this.checkingExits) return;
    this.checkingExits = true;
    try {
      const listed = new Map((await this.supervisor.list()).map((w) => [w.workloadId, w]));
      for (const [id, entry] of this.watched) {
        const now = listed.get(id);
        if (now?.state !== 'running') await this.reportExit(entry, now);
      }
    } catch {
      // The engine did not answer (restarting, overloaded): nothing is known to have exited; ask again next time.
    } finally {
      this.checkingExits = false;
    }
  }

  /** Tells the reconciler why a watched workload is gone, with its last output, and stops routing to it. */
  private async reportExit(entry: Watched, now: Workload | undefined): Promise<void> {
    const { workload } = entry;
    const id = workload.workloadId;
    const logs = now
      ? await this.supervisor.logs(id, LOG_LINES_IN_REASON).catch(() => '')
      : '(its container is gone)';
    // Stopped here meanwhile: that exit was asked for.
    if (this.watched.get(id) !== entry) return;
    // Calls being relayed to it would otherwise wait out their timeout on an address that no longer answers.
    this.options.modelServers?.exited(id);
    this.stopServing(id);
    entry.ctx.exited(
      `${describe(workload)} (${shortRef(entry.ref)}) exited after it was ready${exitCodeNote(now?.exitCode)}; ` +
        `last output: ${logs.trim() || '(none)'}`,
    );
  }

  private async untilHealthy(workload: DesiredWorkload, started: Workload, ctx: RuntimeContext) {
    ctx.report('loading');
    const probe = this.probeOf(workload);
    try {
      return await untilAborted(this.supervisor.waitForHealthy(workload.workloadId, probe), ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const logs = await this.supervisor
        .logs(workload.workloadId, LOG_LINES_IN_REASON)
        .catch(() => '(no logs)');
      // Stopped, not removed: its logs stay readable until the workload is removed.
      await this.supervisor.stop(workload.workloadId, 0).catch(() => undefined);
      throw new Error(
        `${describe(workload)} (${shortRef(started.ref)}) did not become ready: ${messageOf(err)}; last output: ${logs.trim() || '(none)'}`,
        { cause: err },
      );
    }
  }

  /** The workload's spec, with its tenant (for the network it joins) and the limits its size gives it. */
  private specOf(workload: DesiredWorkload): WorkloadSpec {
    const spec = workload.kind === 'model' ? this.modelSpec(workload) : this.notebookSpec(workload);
    const limits = limitsOf(workload, { cpus: availableParallelism(), memoryBytes: totalmem() });
    return {
      ...spec,
      ...limits,
      ...(workload.orgId === undefined ? {} : { tenant: workload.orgId }),
    };
  }

  private modelSpec(workload: DesiredModelWorkload): WorkloadSpec {
    if (!workload.image) throw new Error(`model workload ${workload.workloadId} carries no image to run`);
    const { model } = workload;
    return {
      workloadId: workload.workloadId,
      kind: 'model-server',
      image: workload.image,
      env: {
        MERIDIAN_MODEL_NAME: workload.deploymentId,
        MERIDIAN_MODEL_VERSION: model.versionId,
        MERIDIAN_MODEL_FORMAT: model.format,
        MERIDIAN_MODEL_SHA256: model.sha256,
      },
      gpus: { count: workload.gpuCount, deviceIds: [] },
      port: MODEL_SERVER_PORT,
      labels: { 'meridian.deployment': workload.deploymentId },
    };
  }

  private notebookSpec(workload: DesiredNotebookWorkload): WorkloadSpec {
    const asProcess = this.name === 'process';
    return {
      workloadId: workload.workloadId,
      kind: 'notebook',
      ...(asProcess
        ? {
            // A real UI where the host has one (JupyterLab, Debian's classic notebook), else the bare server.
            command:
              installedJupyterCommand(workload.basePath) ??
              jupyterServerCommand({ executable: JUPYTER_SERVER, basePath: workload.basePath }),
          }
        : { image: workload.image, command: jupyterImageCommand(workload.basePath) }),
      // The server requires the token on every request but its version at `<basePath>api` (the probe).
      env: notebookEnv(workload.token),
      // Pinned in start() where the host's GPUs are known; else the engine picks by count.
      gpus: { count: workload.gpuCount, deviceIds: [] },
      port: NOTEBOOK_PORT,
      // Named after the notebook, not the workload: a notebook's files outlive each start of it.
      volume: volumeOf(workload).volume,
      labels: { 'meridian.notebook': workload.notebookId },
    };
  }

  private probeOf(workload: DesiredWorkload): HealthProbe {
    return workload.kind === 'model'
      ? { path: MODEL_HEALTH_PATH, timeoutMs: this.options.modelHealthTimeoutMs ?? 120_000 }
      : // Jupyter answers GET <base>api (its version) without a token, so the probe needs no secret.
        { path: `${workload.basePath}api`, timeoutMs: this.options.notebookHealthTimeoutMs ?? 60_000 };
  }
}

/** `work`, or its rejection with the signal's reason as soon as `signal` aborts (the work is left to run out). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

const volumeOf = (workload: DesiredNotebookWorkload) => ({
  notebookId: workload.notebookId,
  volume: notebookVolumeName(workload.notebookId),
});

/** A container's exit code as its owner can act on it: 137 is a SIGKILL, most often the memory limit. */
function exitCodeNote(code: number | undefined): string {
  if (code === undefined) return '';
  if (code === 137) return ' with code 137 (killed: most often for going over its memory limit)';
  return ` with code ${code}`;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The workload as its owner reads it in events and statuses: the name they gave, with the id beside it. */
function describe(workload: DesiredWorkload): string {
  const name = workload.displayName;
  if (workload.kind === 'notebook')
    return name ? `notebook ${name} (${workload.notebookId})` : `notebook ${workload.notebookId}`;
  const owner = name
    ? `${name} (deployment ${workload.deploymentId})`
    : `deployment ${workload.deploymentId}`;
  return `model server image ${workload.image ?? '(none)'} for ${owner}`;
}

/** A container id as `docker ps` shows it (a pid stays whole). */
const shortRef = (ref: string) => ref.slice(0, 12);
