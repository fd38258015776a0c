import type {
  DesiredState,
  DesiredWorkload,
  GpuType,
  WorkloadPhase,
  WorkloadStatus,
} from '@meridian/protocol';
import { imageRefusal } from './image-policy.js';
import type { Logger } from './logger.js';
import type { UsageMeter } from './usage-meter.js';
import { LIVE_SETTINGS, type RuntimeContext, type WorkloadRuntime } from './workload-runtime.js';
import type { WorkloadStore } from './workload-store.js';

export interface ReconcilerDeps {
  runtimes: WorkloadRuntime[];
  store: WorkloadStore;
  usage: UsageMeter;
  /** Whether this host has GPUs: on a CPU host every workload's time is `cpu` time. */
  hostHasGpus: () => boolean;
  log: Logger;
  /** Called when a workload changes phase, so a heartbeat can carry it early. */
  onChange?: () => void;
  /** Called once a workload is removed for good (no longer desired; not when replaced or the agent stops). */
  onRemoved?: (workloadId: string) => void;
}

type Held = {
  workload: DesiredWorkload;
  runtime: WorkloadRuntime | undefined;
  phase: WorkloadPhase;
  reason?: string;
  startedAt?: string;
  /** Why it stopped serving on its own, when it did (see RuntimeContext.exited). */
  exited?: string;
  abort: AbortController;
  /** Settles when the runtime's start (or adopt) has finished, however it ended. */
  settled: Promise<void>;
};

/** JSON with object keys sorted, so a spec read back from disk compares equal to the one received. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
/**
 * The spec without its download URL and display name: the control plane signs the URL afresh in every
 * answer, so it differs each time while the bytes it names (versionId, sha256) do not; the name is a label
 * for log lines. Everything else still counts.
 */
function stableSpec(workload: DesiredWorkload): unknown {
  if (workload.kind !== 'model') return { ...workload, displayName: undefined };
  return { ...workload, displayName: undefined, model: { ...workload.model, downloadUrl: undefined } };
}
const sameSpec = (a: DesiredWorkload, b: DesiredWorkload) =>
  canonical(stableSpec(a)) === canonical(stableSpec(b));
/** Whether `a` and `b` differ in LIVE_SETTINGS alone: the replica is reconfigured, not replaced. */
function onlyLiveChange(a: DesiredWorkload, b: DesiredWorkload): boolean {
  if (a.kind !== 'model' || b.kind !== 'model') return false;
  const withoutLive = (w: DesiredWorkload) =>
    canonical(stableSpec({ ...w, ...Object.fromEntries(LIVE_SETTINGS.map((f) => [f, undefined])) }));
  return withoutLive(a) === withoutLive(b);
}
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1024);

/**
 * Converges what runs on this host to the desired state: starts what is new, stops what is gone, replaces
 * what changed. One `apply` at a time; starts run in the background and report their phase as they go.
 */
export class Reconciler {
  private readonly held = new Map<string, Held>();
  private queue: Promise<void> = Promise.resolve();
  /** Whether orphans (workloads running on this host that nobody wants) were removed since start. */
  private orphansRemoved = false;
  /** The image allow-lists of the last desired state: a container image on none is never started. */
  private images: DesiredState['images'];

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Adopts the workloads recorded before a restart; call once, before the first `apply`. */
  restore(): Promise<void> {
    return this.serialize(async () => {
      for (const record of await this.deps.store.load()) {
        const runtime = this.deps.runtimes.find((r) => r.name === record.runtime);
        this.deps.log.info('adopting workload', { workloadId: record.workload.workloadId });
        this.launch(record.workload, runtime, 'adopt');
      }
    });
  }

  apply(state: DesiredState): Promise<void> {
    return this.serialize(async () => {
      this.images = state.images;
      const wanted = new Map(state.workloads.map((w) => [w.workloadId, w]));
      for (const [id, held] of this.held) {
        const next = wanted.get(id);
        if (next && !sameSpec(next, held.workload) && onlyLiveChange(next, held.workload)) {
          if (await this.reconfigure(held, next)) continue;
        }
        if (!next || !sameSpec(next, held.workload)) {
          await this.remove(id, held);
          if (!next) this.deps.onRemoved?.(id);
        }
        // Same workload: keep the freshest signed URL in memory for whoever reads the spec later.
        else held.workload = next;
      }
      for (const workload of state.workloads) {
        if (this.held.has(workload.workloadId)) continue;
        const runtime = this.deps.runtimes.find((r) => r.supports(workload));
        if (runtime) await this.deps.store.put({ runtime: runtime.name, workload });
        this.launch(workload, runtime, 'start');
      }
      if (!this.orphansRemoved) await this.removeOrphans(new Set(wanted.keys()));
    });
  }

  /** Every workload held and where it stands, for the heartbeat. */
  statuses(): WorkloadStatus[] {
    return [...this.held.values()].map((h) => ({
      workloadId: h.workload.workloadId,
      kind: h.workload.kind,
      phase: h.phase,
      ...(h.reason === undefined ? {} : { reason: h.reason }),
      ...(h.startedAt === undefined ? {} : { startedAt: h.startedAt }),
      // Cached by the runtime, so a slow workload never holds up the heartbeat.
      ...(h.phase === 'ready' ? h.runtime?.details?.(h.workload.workloadId) : undefined),
    }));
  }

  /** Resolves once no start is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    await this.queue;
    await Promise.all([...this.held.values()].map((h) => h.settled));
  }

  /**
   * Lets go of every workload but keeps their records, so the next start adopts them. With `leaveRunning`
   * a ready workload whose runtime can detach it keeps running for that start to take back (an upgrade
   * restart keeps notebooks' kernels and model servers' containers); the rest, and all without it, stop.
   * Host time is metered up to now either way: the seconds until the next start are not billed.
   */
  shutdown(options: { leaveRunning?: boolean } = {}): Promise<void> {
    return this.serialize(async () => {
      for (const [id, held] of this.held) {
        const ready = held.phase === 'ready';
        held.abort.abort();
        await held.settled;
        this.deps.usage.stop(id);
        if (options.leaveRunning && ready && held.runtime?.detach) await held.runtime.detach(id);
        else await this.stopLogged(id, held);
      }
      this.held.clear();
    });
  }

  private serialize(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch((err: unknown) =>
      this.deps.log.error('reconcile failed', { error: messageOf(err) }),
    );
    return run;
  }

  private launch(workload: DesiredWorkload, runtime: WorkloadRuntime | undefined, how: 'start' | 'adopt') {
    const abort = new AbortController();
    const held: Held = { workload, runtime, phase: 'pending', abort, settled: Promise.resolve() };
    this.held.set(workload.workloadId, held);
    const set = (phase: WorkloadPhase, reason?: string) => {
      if (abort.signal.aborted) return;
      held.phase = phase;
      held.reason = reason;
      this.deps.onChange?.();
    };
    if (!runtime) {
      set('failed', `no runtime on this agent can run a ${describe(workload)} workload`);
      return;
    }
    // Only a container runs the image it names (the process runtime runs the host's own Jupyter).
    const refusal =
      runtime.name === 'docker' && how === 'start' ? imageRefusal(workload, this.images) : undefined;
    if (refusal) {
      set('failed', refusal);
      this.deps.log.warn('workload refused', { workloadId: workload.workloadId, reason: refusal });
      return;
    }
    const failExited = (reason: string) => {
      this.deps.usage.stop(workload.workloadId);
      set('failed', reason);
      this.deps.log.warn('workload exited', { workloadId: workload.workloadId, reason });
    };
    const exited = (reason: string) => {
      if (abort.signal.aborted || held.exited !== undefined) return;
      held.exited = reason.slice(0, 1024);
      // Before ready the start's own settlement reports it (below).
      if (held.phase === 'ready') failExited(held.exited);
    };
    const ctx: RuntimeContext = { report: (phase) => set(phase), signal: abort.signal, exited };
    held.settled = runtime[how](workload, ctx).then(
      (adopted) => {
        if (abort.signal.aborted) return;
        if (held.exited !== undefined) return failExited(held.exited);
        held.startedAt = new Date().toISOString();
        this.deps.usage.start(workload.workloadId, this.gpuTypeOf(workload));
        set('ready');
        this.deps.log.info('workload ready', {
          workloadId: workload.workloadId,
          runtime: runtime.name,
          ...(adopted ? { adopted } : {}),
        });
      },
      (err: unknown) => {
        if (abort.signal.aborted) return;
        set('failed', messageOf(err));
        this.deps.log.warn('workload failed', { workloadId: workload.workloadId, reason: messageOf(err) });
      },
    );
  }

  /** Once, after the first desired state: only then is it known which leftovers nobody wants. */
  private async removeOrphans(desiredIds: ReadonlySet<string>): Promise<void> {
    this.orphansRemoved = true;
    for (const runtime of this.deps.runtimes) {
      try {
        await runtime.removeUndesired?.(desiredIds);
      } catch (err) {
        this.deps.log.warn('removing orphaned workloads failed', {
          runtime: runtime.name,
          error: messageOf(err),
        });
      }
    }
  }

  /** A change of LIVE_SETTINGS alone, applied to the serving replica; false when it must be replaced. */
  private async reconfigure(held: Held, next: DesiredWorkload): Promise<boolean> {
    const { runtime } = held;
    if (runtime?.reconfigure && !runtime.reconfigure(next)) return false;
    held.workload = next;
    // Recorded, so a restart adopts the replica with the settings it now has.
    if (runtime) await this.deps.store.put({ runtime: runtime.name, workload: next });
    this.deps.log.info('workload reconfigured', { workloadId: next.workloadId });
    return true;
  }

  private async remove(id: string, held: Held): Promise<void> {
    held.abort.abort();
    await held.settled;
    this.held.delete(id);
    this.deps.usage.stop(id);
    await this.stopLogged(id, held);
    await this.deps.store.delete(id);
    this.deps.log.info('workload removed', { workloadId: id });
    this.deps.onChange?.();
  }

  /**
   * One workload's failed stop (a notebook whose files the control plane refused or could not take) must not
   * hold up the others being stopped or started with it, other tenants' included. Its runtime has let go of
   * it; the orphan sweep at the next start removes anything left running.
   */
  private async stopLogged(id: string, held: Held): Promise<void> {
    try {
      await held.runtime?.stop(id);
    } catch (err) {
      this.deps.log.error('stopping workload failed', { workloadId: id, error: messageOf(err) });
    }
  }

  private gpuTypeOf(workload: DesiredWorkload): GpuType {
    return this.deps.hostHasGpus() && workload.gpuCount > 0 ? workload.gpuType : 'cpu';
  }
}

function describe(workload: DesiredWorkload): string {
  return workload.kind === 'model' ? `${workload.model.runtime} model` : 'notebook';
}
