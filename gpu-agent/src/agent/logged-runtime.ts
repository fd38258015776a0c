import type { DesiredWorkload } from '@meridian/protocol';
import type { OutputFollower, OutputSink, WorkloadSupervisor } from '../runtimes/types.js';
import type { WorkloadLogs } from './workload-logs.js';
import type { Adopted, RuntimeContext, WorkloadRuntime } from './workload-runtime.js';

/**
 * A docker or process runtime whose workloads' output goes to WorkloadLogs: following starts as soon as the
 * workload exists (the runtime reports `loading` then, before its health probe answers, so a notebook's
 * start-up lines are there) and ends when it is stopped. A notebook's token is redacted from its lines.
 */
export class LoggedRuntime implements WorkloadRuntime {
  readonly name: WorkloadRuntime['name'];
  private readonly followers = new Map<string, Promise<OutputFollower | undefined>>();
  /** `<deployment>\n<version>` → the workload serving it, for ready model workloads. */
  private readonly serving = new Map<string, string>();

  constructor(
    private readonly inner: WorkloadRuntime,
    private readonly supervisor: Pick<WorkloadSupervisor, 'followOutput'>,
    private readonly logs: WorkloadLogs,
  ) {
    this.name = inner.name;
    if (inner.details) this.details = (id) => inner.details?.(id);
    if (inner.removeUndesired)
      this.removeUndesired = (ids) => inner.removeUndesired?.(ids) ?? Promise.resolve();
    if (inner.detach) this.detach = (id) => this.detachFrom(inner, id);
  }

  details?: WorkloadRuntime['details'];
  removeUndesired?: WorkloadRuntime['removeUndesired'];
  detach?: WorkloadRuntime['detach'];

  supports(workload: DesiredWorkload): boolean {
    return this.inner.supports(workload);
  }

  start(workload: DesiredWorkload, ctx: RuntimeContext): Promise<void> {
    return this.run(workload, 'starting', this.inner.start(workload, this.following(workload, ctx)));
  }

  async adopt(workload: DesiredWorkload, ctx: RuntimeContext): Promise<Adopted> {
    const adopted = await this.run(
      workload,
      'taking back',
      this.inner.adopt(workload, this.following(workload, ctx)),
    );
    if (adopted === 'taken-back') this.logs.append(workload.workloadId, 'agent', 'still running: taken back');
    return adopted;
  }

  async stop(workloadId: string): Promise<void> {
    await this.letGo(workloadId);
    await this.inner.stop(workloadId);
    this.logs.append(workloadId, 'agent', 'stopped');
  }

  private async detachFrom(inner: WorkloadRuntime, workloadId: string): Promise<void> {
    await this.letGo(workloadId);
    await inner.detach?.(workloadId);
    this.logs.append(workloadId, 'agent', 'left running: the agent stopped, its next start takes it back');
  }

  /** Its output is no longer followed here, nor failed requests put in its log. */
  private async letGo(workloadId: string): Promise<void> {
    await this.unfollow(workloadId);
    for (const [key, id] of this.serving) if (id === workloadId) this.serving.delete(key);
  }

  /** The workload that serves version `version` of deployment `name` here (where a failed request belongs). */
  servingWorkload(name: string, version: string): string | undefined {
    return this.serving.get(`${name}\n${version}`);
  }

  /** Writes the workload's lifecycle into its log: what starts, how long it took, or why it failed. */
  private async run<T>(workload: DesiredWorkload, verb: string, work: Promise<T>): Promise<T> {
    const id = workload.workloadId;
    const started = performance.now();
    this.logs.append(id, 'agent', `${verb} ${describe(workload)} on the ${this.name} runtime`);
    let result: T;
    try {
      result = await work;
    } catch (err) {
      this.logs.append(id, 'agent', `failed to start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    if (workload.kind === 'model')
      this.serving.set(`${workload.deploymentId}\n${workload.model.versionId}`, id);
    this.logs.append(id, 'agent', `ready in ${Math.round(performance.now() - started)} ms`);
    return result;
  }

  /** The context, with following begun when the workload reaches `loading` (it exists from then on). */
  private following(workload: DesiredWorkload, ctx: RuntimeContext): RuntimeContext {
    const id = workload.workloadId;
    if (workload.kind === 'notebook') this.logs.redact(id, [workload.token]);
    return {
      signal: ctx.signal,
      exited: (reason) => {
        this.logs.append(id, 'agent', `exited: ${reason}`);
        ctx.exited(reason);
      },
      report: (phase) => {
        ctx.report(phase);
        this.logs.append(id, 'agent', phase === 'pulling' ? 'pulling' : 'loading');
        if (phase === 'loading') void this.follow(id);
      },
    };
  }

  private async follow(workloadId: string): Promise<void> {
    await this.unfollow(workloadId);
    const sink: OutputSink = { writer: (stream) => this.logs.writer(workloadId, stream) };
    const follower = this.supervisor.followOutput?.(workloadId, sink).catch(() => undefined);
    if (follower) this.followers.set(workloadId, follower);
  }

  private async unfollow(workloadId: string): Promise<void> {
    const follower = this.followers.get(workloadId);
    this.followers.delete(workloadId);
    (await follower)?.stop();
  }
}

/** The workload as its owner knows it (name, version number), with the ids support would ask for. */
function describe(workload: DesiredWorkload): string {
  const name = workload.displayName;
  if (workload.kind === 'notebook')
    return name ? `notebook ${name} (${workload.notebookId})` : `notebook ${workload.notebookId}`;
  const { model } = workload;
  const what = workload.image ? `image ${workload.image}` : `${model.format} model`;
  const size = `${model.sizeBytes} bytes`;
  return name
    ? `${name} (${what}, ${size}; version ${model.versionId})`
    : `${what} (version ${model.versionId}, ${size}) for deployment ${workload.deploymentId}`;
}
