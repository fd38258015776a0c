import { PRICES } from '@meridian/protocol';
import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { Actor, Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { type BatchStatus, batchJobs, files } from '../../db/schema.js';
import { AppError, conflict, forbidden, invalidField, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { callerOf, jobsVisibleTo, mayPredict, requireBatchAccess } from '../files/access.js';
import { findFile } from '../files/files.js';
import { newBatchJobId, newFileId } from '../files/ids.js';
import { idCursor, splitPage } from '../pagination.js';
import type { BatchDeps } from './deps.js';
import { MAX_CONCURRENCY } from './deps.js';
import { findDeployment } from './target.js';

type JobRow = typeof batchJobs.$inferSelect;
const ENDED: BatchStatus[] = ['completed', 'failed', 'cancelled', 'expired'];
const NOT_ENDED: BatchStatus[] = ['validating', 'running', 'finalizing', 'cancelling'];
const MAX_WINDOW_SECONDS = 7 * 24 * 3600;

/** `24h`, `90m`, `7d` → seconds; from 1 minute to 7 days. */
export function parseCompletionWindow(text: string): number {
  const match = /^([1-9][0-9]{0,4})([mhd])$/.exec(text);
  const seconds = match ? Number(match[1]) * { m: 60, h: 3600, d: 86_400 }[match[2] as 'm' | 'h' | 'd'] : 0;
  if (seconds < 60 || seconds > MAX_WINDOW_SECONDS)
    throw invalidField('completionWindow', 'a duration such as 24h, 90m or 7d, from 1m to 7d');
  return seconds;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const windowText = (s: number) =>
  s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : `${s / 60}m`;

/** A job as the API shows it: counts, timings and the cost of the lines answered so far. */
export function presentJob(row: JobRow) {
  const ended = ENDED.includes(row.status);
  const millicents = row.completed * Math.round(Number(PRICES.inference_calls.usdPerUnit) * 100_000);
  return {
    id: row.id,
    object: 'batch_job' as const,
    deployment: { id: row.deploymentId, name: row.deploymentName },
    inputFileId: row.inputFileId,
    // Reserved at creation, written when the job ends (a job that failed validation has none).
    outputFileId: ended ? row.outputFileId : null,
    errorFileId: ended ? row.errorFileId : null,
    status: row.status,
    error: row.error,
    pausedReason: ended ? null : row.pausedReason,
    statusReason: ended ? null : row.statusReason,
    completionWindow: windowText(row.completionWindowSeconds),
    maxConcurrency: row.maxConcurrency,
    counts: { total: row.total, completed: row.completed, failed: row.failed },
    costUsd: (millicents / 100_000).toFixed(3),
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finalizingAt: iso(row.finalizingAt),
    endedAt: iso(row.endedAt),
    cancelRequestedAt: iso(row.cancelRequestedAt),
    expiresAt: row.expiresAt.toISOString(),
  };
}

/**
 * A job as the audit log names it: what it calls, on what (`ocr on inputs.jsonl`). The input file may have
 * passed its retention and gone while the job ran; the deployment alone names it then.
 */
function jobName(deploymentName: string, inputFileName: string | undefined): string {
  return inputFileName === undefined ? deploymentName : `${deploymentName} on ${inputFileName}`;
}

async function inputFileName(db: Pick<Database, 'select'>, orgId: string, fileId: string) {
  const [file] = await db
    .select({ name: files.fileName })
    .from(files)
    .where(and(eq(files.orgId, orgId), eq(files.id, fileId)));
  return file?.name;
}

export interface CreateJobInput {
  deployment: string;
  inputFileId: string;
  completionWindow?: string | undefined;
  maxConcurrency?: number | undefined;
}

/**
 * Creates a job over a stored file for one deployment. The credential must be allowed to call that deployment
 * (403, as at the edge); another org's deployment or file is 404. The runner validates the file next.
 */
export async function createJob(
  deps: BatchDeps,
  actor: Actor,
  input: CreateJobInput,
  kick: () => void,
  now = new Date(),
) {
  requireBatchAccess(actor.principal);
  const orgId = actor.principal.orgId;
  const deployment = await findDeployment(deps.db, orgId, input.deployment);
  if (!mayPredict(actor.principal, deployment))
    throw forbidden(
      `This credential may not call deployment "${deployment.name}": it needs the predict or predict:${deployment.name} scope`,
    );
  const file = await findFile(deps.db, orgId, input.inputFileId, now);
  if (file.purpose !== 'batch')
    throw invalidField('inputFileId', 'the file was not uploaded with purpose batch');
  const windowSeconds = parseCompletionWindow(input.completionWindow ?? '24h');
  const id = newBatchJobId();
  const [row] = await deps.db
    .insert(batchJobs)
    .values({
      id,
      orgId,
      deploymentId: deployment.id,
      deploymentName: deployment.name,
      inputFileId: file.id,
      outputFileId: newFileId(),
      errorFileId: newFileId(),
      status: 'validating',
      completionWindowSeconds: windowSeconds,
      maxConcurrency: Math.min(input.maxConcurrency ?? deps.defaultConcurrency, MAX_CONCURRENCY),
      ...callerOf(actor.principal),
      createdAt: now,
      expiresAt: new Date(now.getTime() + windowSeconds * 1000),
    })
    .returning();
  if (!row) throw new AppError('internal', 'the job was not stored');
  await recordAudit(deps.db, actor, {
    orgId,
    action: 'batch_job.create',
    targetType: 'batch_job',
    targetId: id,
    metadata: {
      name: jobName(deployment.name, file.fileName),
      deploymentId: deployment.id,
      inputFileId: file.id,
    },
  });
  kick();
  return presentJob(row);
}

/**
 * A job of the org that the credential may see: a key limited to some deployments (`predict:<deployment>`)
 * sees only the jobs on those, as if the others did not exist (their outputs are those deployments' answers).
 */
async function findJob(deps: Pick<BatchDeps, 'db'>, principal: Principal, id: string) {
  const [row] = await deps.db
    .select()
    .from(batchJobs)
    .where(and(eq(batchJobs.id, id), eq(batchJobs.orgId, principal.orgId)));
  if (!row || !mayPredict(principal, { id: row.deploymentId, name: row.deploymentName }))
    throw notFound('Batch job');
  return row;
}

export async function getJob(deps: Pick<BatchDeps, 'db'>, actor: Actor, id: string) {
  requireBatchAccess(actor.principal);
  return presentJob(await findJob(deps, actor.principal, id));
}

export async function listJobs(
  deps: Pick<BatchDeps, 'db'>,
  actor: Actor,
  query: { limit: number; cursor?: string | undefined; status?: BatchStatus | undefined },
) {
  requireBatchAccess(actor.principal);
  const after = idCursor(query.cursor, 'batch');
  const rows = await deps.db
    .select()
    .from(batchJobs)
    .where(
      and(
        eq(batchJobs.orgId, actor.principal.orgId),
        jobsVisibleTo(actor.principal),
        query.status ? eq(batchJobs.status, query.status) : undefined,
        after ? lt(batchJobs.id, after) : undefined,
      ),
    )
    .orderBy(desc(batchJobs.id))
    .limit(query.limit + 1);
  const page = splitPage(rows, query.limit, (r) => r.id);
  return { items: page.items.map(presentJob), nextCursor: page.nextCursor };
}

/**
 * Cancels a job: no new line starts (the runner aborts its lines at once in this instance, within a poll
 * elsewhere); what was answered is written to the output and error files. An ended job answers 409.
 */
export async function cancelJob(
  deps: Pick<BatchDeps, 'db'>,
  actor: Actor,
  id: string,
  notify: (jobId: string) => void,
  now = new Date(),
) {
  requireBatchAccess(actor.principal);
  const job = await findJob(deps, actor.principal, id);
  refuseCancel(job.status);
  const row = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(batchJobs)
      .set({ status: 'cancelling', cancelRequestedAt: job.cancelRequestedAt ?? now })
      .where(
        and(eq(batchJobs.id, job.id), inArray(batchJobs.status, ['validating', 'running', 'cancelling'])),
      )
      .returning();
    // It moved on since it was read (every line answered, or ended): nothing was cancelled, nothing to audit.
    if (!updated) return undefined;
    const name = jobName(job.deploymentName, await inputFileName(tx, job.orgId, job.inputFileId));
    await recordAudit(tx, actor, {
      orgId: job.orgId,
      action: 'batch_job.cancel',
      targetType: 'batch_job',
      targetId: job.id,
      metadata: { name },
    });
    return updated;
  });
  if (!row) {
    // It moved on between the read and the update: say where it is now.
    const now = await findJob(deps, actor.principal, id);
    refuseCancel(now.status);
    return presentJob(now);
  }
  // After the commit, so the runner that is told reads `cancelling`.
  notify(job.id);
  return presentJob(row);
}

/** A cancel of a job past the point where one stops anything is a conflict that says where it is. */
function refuseCancel(status: BatchStatus): void {
  if (ENDED.includes(status)) throw conflict(`The job has ended (${status})`);
  if (status === 'finalizing')
    throw conflict(
      'The job has answered every line and is writing its files (finalizing): nothing is left to cancel',
    );
}

/** Expiring URLs of a job's output and error files (null while it runs, or when it has none). */
export async function jobDownloadUrls(
  deps: Pick<BatchDeps, 'db' | 'store'>,
  actor: Actor,
  id: string,
  expiresIn: number,
) {
  requireBatchAccess(actor.principal);
  const job = presentJob(await findJob(deps, actor.principal, id));
  const urlOf = async (fileId: string | null) => {
    if (!fileId) return null;
    const file = await findFile(deps.db, actor.principal.orgId, fileId).catch(() => undefined);
    return file ? deps.store.presignGet(file.objectKey, expiresIn) : null;
  };
  return {
    output: await urlOf(job.outputFileId),
    errors: await urlOf(job.errorFileId),
    expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
  };
}

/** Whether a job that has not ended reads this file (it may not be deleted then). */
export async function fileInUse(deps: Pick<BatchDeps, 'db'>, fileId: string): Promise<boolean> {
  const rows = await deps.db
    .select({ id: batchJobs.id })
    .from(batchJobs)
    .where(and(eq(batchJobs.inputFileId, fileId), inArray(batchJobs.status, NOT_ENDED)))
    .limit(1);
  return rows.length > 0;
}
