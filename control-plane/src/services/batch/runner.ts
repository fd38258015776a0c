import type { RoutedDeployment } from '@meridian/protocol';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { type BatchJobError, type BatchStatus, batchJobs, batchShards, files } from '../../db/schema.js';
import { sweepExpiredFiles } from '../files/files.js';
import { DatabaseLease } from '../scheduler/lease.js';
import { commitShard } from './checkpoint.js';
import type { BatchDeps } from './deps.js';
import { DEFAULT_RETRY, ReplicaChooser, type RetryPolicy, sleep } from './dispatch.js';
import { finalizeJob } from './finalize.js';
import { readShardLines, runLines } from './run-shard.js';
import { orgAllowance } from './standing.js';
import { deploymentDeleted, deploymentStanding, loadTarget } from './target.js';
import { validateJob } from './validate.js';
import { waitVerdict } from './waiting.js';

type JobRow = typeof batchJobs.$inferSelect;
const ACTIVE: BatchStatus[] = ['validating', 'running', 'finalizing', 'cancelling'];
type Stop = { outcome: BatchStatus; error?: BatchJobError } | 'paused';

export interface RunnerOptions {
  /** Stable across restarts: a restarted instance takes its lease back at once. */
  instanceId: string;
  intervalMs?: number;
  /** Jobs run at once by this instance. */
  maxJobs?: number;
  retry?: RetryPolicy;
  /** How long a job waits on a deployment no host can place before it fails (UNPLACEABLE_LIMIT_MS). */
  unplaceableLimitMs?: number;
}

/**
 * Runs batch jobs in the background: one control-plane instance at a time (a lease row), each job shard by
 * shard with its own concurrency limit. All progress is in the database, so a killed instance (or the next
 * one) resumes a job at its first shard not committed.
 */
export class BatchRunner {
  private readonly lease: DatabaseLease;
  private readonly active = new Map<string, AbortController>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private ticking = false;
  private lastSweep = 0;

  constructor(
    private readonly deps: BatchDeps,
    private readonly options: RunnerOptions,
  ) {
    this.lease = new DatabaseLease(deps.db, 'batch-jobs', options.instanceId, 15_000);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const controller of this.active.values()) controller.abort('stopping');
    await this.lease.release().catch(() => {});
  }

  /** A job was created or cancelled: look now rather than at the next tick; a cancel stops its lines at once. */
  kick(cancelledJobId?: string): void {
    if (cancelledJobId) this.active.get(cancelledJobId)?.abort('cancelled');
    if (!this.stopped) this.schedule(0);
  }

  private schedule(ms: number) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      if (!(await this.lease.acquire())) return;
      const capacity = (this.options.maxJobs ?? 4) - this.active.size;
      if (capacity > 0) {
        const jobs = await this.deps.db
          .select({ id: batchJobs.id })
          .from(batchJobs)
          .where(inArray(batchJobs.status, ACTIVE))
          .orderBy(asc(batchJobs.id))
          .limit(capacity + this.active.size);
        for (const { id } of jobs) {
          if (this.active.has(id) || this.active.size >= (this.options.maxJobs ?? 4)) continue;
          const controller = new AbortController();
          this.active.set(id, controller);
          void this.drive(id, controller).finally(() => {
            this.active.delete(id);
            if (!this.stopped) this.schedule(200);
          });
        }
      }
      if (Date.now() - this.lastSweep > 600_000) {
        this.lastSweep = Date.now();
        await sweepExpiredFiles(this.deps, new Date());
      }
    } catch (error) {
      this.deps.logger.warn('batch runner tick failed', { error });
    } finally {
      this.ticking = false;
      if (!this.stopped) this.schedule(this.options.intervalMs ?? 1000);
    }
  }

  private async drive(jobId: string, controller: AbortController): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const [job] = await this.deps.db.select().from(batchJobs).where(eq(batchJobs.id, jobId));
        if (!job) return;
        if (job.status === 'validating') await validateJob(this.deps, job);
        else if (job.status === 'cancelling') return void (await this.finish(job, { outcome: 'cancelled' }));
        else if (job.status === 'finalizing')
          return void (await this.finish(job, { outcome: job.outcome ?? 'completed' }));
        else if (job.status === 'running') {
          const stop = await this.runShards(job, controller.signal);
          if (stop === 'paused') {
            await sleep(1000, controller.signal);
            return;
          }
          return void (await this.finish(job, stop));
        } else return;
      }
    } catch (error) {
      this.deps.logger.error('batch job step failed; retried on the next tick', { jobId, error });
    }
  }

  private async finish(job: JobRow, stop: { outcome: BatchStatus; error?: BatchJobError }) {
    // An ending job waits on nothing: its error, if any, says why it ended.
    await this.deps.db
      .update(batchJobs)
      .set({
        pausedReason: null,
        statusReason: null,
        unplaceableSince: null,
        ...(stop.error ? { error: stop.error } : {}),
      })
      .where(eq(batchJobs.id, job.id));
    await finalizeJob(this.deps, job, stop.outcome);
  }

  /** Runs the job's remaining shards until done, cancelled, expired, out of quota or paused. */
  private async runShards(job: JobRow, runnerSignal: AbortSignal): Promise<Stop> {
    const target = await loadTarget(this.deps.db, job.orgId, job.deploymentId);
    if (!target) return { outcome: 'failed', error: deploymentDeleted(job.deploymentName) };
    // Checked here too, not only by the watch while lines run: a job paused (org suspended) comes back here.
    if (Date.now() > job.expiresAt.getTime()) return EXPIRED;
    const [input] = await this.deps.db.select().from(files).where(eq(files.id, job.inputFileId));
    if (!input)
      return { outcome: 'failed', error: { code: 'file_not_found', message: 'the input file is gone' } };
    const jobSignal = new AbortController();
    const watch = this.watch(job, jobSignal, runnerSignal);
    let deployment: RoutedDeployment | undefined;
    const refresh = async () => {
      const snapshot = await this.deps.routing.current();
      deployment = snapshot.deployments.find((d) => d.deploymentId === job.deploymentId);
    };
    await refresh();
    const refresher = setInterval(() => void refresh().catch(() => {}), 1000);
    const ctx = {
      platformKey: this.deps.dataPlaneSigningKey,
      deployment: () => deployment,
      // The agent journals batch lines under the job (billing skips them: the job bills its own lines).
      usage: { orgId: job.orgId, keyId: null, userId: job.id },
      chooser: new ReplicaChooser(),
      retry: this.options.retry ?? DEFAULT_RETRY,
      signal: jobSignal.signal,
    };
    try {
      const shards = await this.deps.db
        .select()
        .from(batchShards)
        .where(and(eq(batchShards.jobId, job.id), eq(batchShards.done, false)))
        .orderBy(asc(batchShards.shard));
      for (const shard of shards) {
        const gate = await this.gate(job, () => deployment, jobSignal.signal);
        if (gate === 'aborted') return this.stopOf(jobSignal.signal, runnerSignal);
        if (gate !== 'go') return gate;
        const allowance = await orgAllowance(this.deps.db, job.orgId);
        const limit = allowance.remaining ?? Number.POSITIVE_INFINITY;
        if (limit <= 0) return quotaStop(allowance.quota);
        const lines = await readShardLines(this.deps, input.objectKey, shard, target);
        const { results, complete } = await runLines(ctx, lines, {
          concurrency: job.maxConcurrency,
          limit,
          deploymentName: job.deploymentName,
        });
        // A shutdown leaves the shard to be run again whole: committing part of it would bill those lines twice.
        if (!complete && runnerSignal.aborted) return 'paused';
        await commitShard(this.deps, job, shard.shard, results, !complete);
        if (!complete) {
          if (jobSignal.signal.aborted) return this.stopOf(jobSignal.signal, runnerSignal);
          return quotaStop(allowance.quota);
        }
      }
      return { outcome: 'completed' };
    } finally {
      clearInterval(refresher);
      clearInterval(watch);
    }
  }

  private stopOf(job: AbortSignal, runner: AbortSignal): Stop {
    if (runner.aborted && runner.reason === 'stopping') return 'paused';
    if (job.reason === 'expired') return EXPIRED;
    return { outcome: 'cancelled' };
  }

  /** Polls the job row (another instance's cancel) and the clock (expiry); aborts the job's lines when due. */
  private watch(job: JobRow, controller: AbortController, runner: AbortSignal) {
    const onRunner = () => controller.abort(runner.reason);
    runner.addEventListener('abort', onRunner, { once: true });
    return setInterval(() => {
      if (Date.now() > job.expiresAt.getTime()) controller.abort('expired');
      void this.deps.db
        .select({ status: batchJobs.status })
        .from(batchJobs)
        .where(eq(batchJobs.id, job.id))
        .then(([row]) => {
          if (row?.status === 'cancelling') controller.abort('cancelled');
        })
        .catch(() => {});
    }, 250);
  }

  /**
   * Waits while the org is suspended ('paused' returns to the tick) or no replica is ready (waking a deployment
   * at zero), saying why on the job; ends it when its deployment is deleted, failed to start, or stayed
   * unplaceable past the bound (./waiting.ts).
   */
  private async gate(
    job: JobRow,
    deployment: () => RoutedDeployment | undefined,
    signal: AbortSignal,
  ): Promise<'go' | 'aborted' | Stop> {
    let unplaceableSince = job.unplaceableSince;
    for (;;) {
      if (signal.aborted) return 'aborted';
      const allowance = await orgAllowance(this.deps.db, job.orgId);
      const ready = deployment()?.versions.some((v) => v.replicas.length > 0) ?? false;
      const standing = await deploymentStanding(this.deps.db, job.orgId, job.deploymentId);
      // A deployment deleted while the job waits will never have a replica: the job ends rather than wait it out.
      if (!standing && !allowance.suspended && !ready)
        return { outcome: 'failed', error: deploymentDeleted(job.deploymentName) };
      const verdict = waitVerdict(
        { deploymentName: job.deploymentName, unplaceableSince },
        { suspended: allowance.suspended, ready, problem: standing?.startProblem ?? null },
        new Date(),
        this.options.unplaceableLimitMs,
      );
      if (verdict.act === 'fail') return { outcome: 'failed', error: verdict.error };
      const waiting = verdict.act === 'go' ? undefined : verdict;
      unplaceableSince = waiting?.unplaceableSince ?? null;
      await this.deps.db
        .update(batchJobs)
        .set({
          pausedReason: waiting?.pausedReason ?? null,
          statusReason: waiting?.statusReason ?? null,
          unplaceableSince,
        })
        .where(eq(batchJobs.id, job.id));
      if (verdict.act === 'go') return 'go';
      if (verdict.act === 'pause') return 'paused';
      await this.deps.wake?.(job.deploymentId).catch(() => {});
      if (!(await sleep(500, signal))) return 'aborted';
    }
  }
}

const EXPIRED: Stop = {
  outcome: 'expired',
  error: { code: 'expired', message: 'the completion window passed' },
};

function quotaStop(quota: number | null): Stop {
  return {
    outcome: 'failed',
    error: {
      code: 'quota_exceeded',
      message: `the organisation's monthly quota of ${quota ?? 0} calls is used up; the lines answered so far are in the output file`,
    },
  };
}
