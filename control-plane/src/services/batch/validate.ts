import { and, eq } from 'drizzle-orm';
import { type BatchJobError, batchJobs, batchResults, batchShards, files } from '../../db/schema.js';
import type { BatchDeps } from './deps.js';
import { MAX_LINE_BYTES, MAX_LINES, SHARD_LINES } from './deps.js';
import { readLines } from './line-reader.js';
import { customIdOf, parseLine } from './lines.js';
import { errorLine } from './results.js';
import { deploymentDeleted, loadTarget } from './target.js';

type JobRow = typeof batchJobs.$inferSelect;
type Shard = typeof batchShards.$inferInsert;
const SHOWN_FAULTS = 10;
const INSERT_ROWS = 200;

/**
 * Reads the input file once: each line is checked (JSON, Batch API shape, the deployment's inputs); refused
 * lines go to the error file's rows now, valid ones are cut into shards by byte range. The job fails here when
 * the file is empty, holds no valid line, or repeats a custom_id (each answer must name one input), with the
 * first faults by line number. Starts over from nothing, so a restart mid-validation just runs it again.
 */
export async function validateJob(deps: BatchDeps, job: JobRow, now = () => new Date()): Promise<void> {
  await clearProgress(deps, job.id);
  const target = await loadTarget(deps.db, job.orgId, job.deploymentId);
  if (!target) return failValidation(deps, job, deploymentDeleted(job.deploymentName), now());
  const [input] = await deps.db.select().from(files).where(eq(files.id, job.inputFileId));
  const object = input ? await deps.store.get(input.objectKey) : undefined;
  if (!object)
    return failValidation(deps, job, { code: 'file_not_found', message: 'the input file is gone' }, now());

  const seen = new Map<string, number>();
  const duplicates: BatchJobError['faults'] = [];
  const faults: { line: number; message: string }[] = [];
  const shards: Shard[] = [];
  let rows: (typeof batchResults.$inferInsert)[] = [];
  let total = 0;
  let failed = 0;
  let open: { firstLine: number; startByte: number; valid: number } | undefined;
  let lastEnd = 0;
  const flush = async () => {
    if (rows.length > 0) await deps.db.insert(batchResults).values(rows).onConflictDoNothing();
    rows = [];
  };
  for await (const line of readLines(object.body, { maxLineBytes: MAX_LINE_BYTES })) {
    lastEnd = line.end;
    if (!line.tooLong && line.text.trim() === '') continue;
    total += 1;
    if (total > MAX_LINES) {
      object.body.destroy();
      return failValidation(
        deps,
        job,
        { code: 'too_many_lines', message: `a file may hold at most ${MAX_LINES} lines` },
        now(),
      );
    }
    const parsed = line.tooLong
      ? ({
          ok: false,
          customId: null,
          code: 'line_too_long',
          message: `the line is longer than ${MAX_LINE_BYTES} bytes`,
        } as const)
      : parseLine(line.text, target);
    const customId = parsed.ok
      ? parsed.customId
      : (parsed.customId ?? (line.tooLong ? null : customIdOfText(line.text)));
    if (customId !== null) {
      const first = seen.get(customId);
      if (first === undefined) seen.set(customId, line.number);
      else if (duplicates.length < SHOWN_FAULTS)
        duplicates.push({
          line: line.number,
          message: `custom_id '${customId.slice(0, 64)}' repeats line ${first}`,
        });
    }
    if (!parsed.ok) {
      failed += 1;
      if (faults.length < SHOWN_FAULTS)
        faults.push({ line: line.number, message: `${parsed.code}: ${parsed.message}` });
      rows.push({
        jobId: job.id,
        line: line.number,
        ok: false,
        text: errorLine(line.number, customId, parsed),
      });
      if (rows.length >= INSERT_ROWS) await flush();
      continue;
    }
    open ??= { firstLine: line.number, startByte: line.start, valid: 0 };
    open.valid += 1;
    if (open.valid === SHARD_LINES) {
      shards.push({
        jobId: job.id,
        shard: shards.length,
        firstLine: open.firstLine,
        startByte: open.startByte,
        endByte: line.end,
      });
      open = undefined;
    }
  }
  if (open)
    shards.push({
      jobId: job.id,
      shard: shards.length,
      firstLine: open.firstLine,
      startByte: open.startByte,
      endByte: lastEnd,
    });
  if (total === 0)
    return failValidation(deps, job, { code: 'empty_file', message: 'the input file holds no line' }, now());
  if (duplicates.length > 0)
    return failValidation(
      deps,
      job,
      { code: 'duplicate_custom_id', message: 'every line needs its own custom_id', faults: duplicates },
      now(),
    );
  if (shards.length === 0)
    return failValidation(
      deps,
      job,
      { code: 'no_valid_line', message: 'no line of the file is a valid request (is it JSONL?)', faults },
      now(),
    );
  await flush();
  for (let i = 0; i < shards.length; i += INSERT_ROWS)
    await deps.db.insert(batchShards).values(shards.slice(i, i + INSERT_ROWS));
  await deps.db
    .update(batchJobs)
    .set({ status: 'running', total, failed, completed: 0, startedAt: now() })
    .where(stillValidating(job.id));
}

function customIdOfText(text: string): string | null {
  try {
    return customIdOf(JSON.parse(text));
  } catch {
    return null;
  }
}

async function clearProgress(deps: BatchDeps, jobId: string) {
  await deps.db.delete(batchResults).where(eq(batchResults.jobId, jobId));
  await deps.db.delete(batchShards).where(eq(batchShards.jobId, jobId));
}

async function failValidation(deps: BatchDeps, job: JobRow, error: BatchJobError, at: Date) {
  await clearProgress(deps, job.id);
  await deps.db
    .update(batchJobs)
    .set({ status: 'failed', error, endedAt: at, outputFileId: null, errorFileId: null })
    .where(stillValidating(job.id));
}

/** A cancel may land while the file is read: the job then stays `cancelling` and the runner ends it so. */
const stillValidating = (jobId: string) => and(eq(batchJobs.id, jobId), eq(batchJobs.status, 'validating'));
