import { createHash } from 'node:crypto';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { runLogBatches, runMetrics, runParams, runTags } from '../../db/schema.js';
import { AppError, conflict } from '../../errors.js';
import { type AuditAction, recordAudit } from '../audit/record.js';
import { findRun } from './runs.js';
import type { Tx } from './types.js';

export interface Entry {
  key: string;
  value: string;
}

export interface MetricInput {
  key: string;
  value: number;
  step: number;
  timestamp?: string;
}

/** One value per key: repeating a key with the same value is harmless, with another value it is ambiguous. */
function dedupe(entries: Entry[], field: string): Entry[] {
  const byKey = new Map<string, string>();
  for (const [i, { key, value }] of entries.entries()) {
    const seen = byKey.get(key);
    if (seen !== undefined && seen !== value) {
      throw new AppError(
        'validation_failed',
        `${field} names ${JSON.stringify(key)} twice with different values`,
        [{ path: `${field}.${i}.key`, message: 'duplicate key with a different value' }],
      );
    }
    byKey.set(key, value);
  }
  return [...byKey].map(([key, value]) => ({ key, value }));
}

/**
 * Params are immutable: inserts the new keys, then checks every key against what is stored, so a key
 * logged before (or by a concurrent request) with another value fails the whole transaction with 409.
 */
export async function insertParams(tx: Tx, runId: string, entries: Entry[]): Promise<number> {
  const params = dedupe(entries, 'params');
  if (params.length === 0) return 0;
  await tx
    .insert(runParams)
    .values(params.map((p) => ({ runId, ...p })))
    .onConflictDoNothing();
  const stored = await tx
    .select({ key: runParams.key, value: runParams.value })
    .from(runParams)
    .where(
      and(
        eq(runParams.runId, runId),
        inArray(
          runParams.key,
          params.map((p) => p.key),
        ),
      ),
    );
  const storedValue = new Map(stored.map((p) => [p.key, p.value]));
  const changed = params.filter((p) => storedValue.get(p.key) !== p.value).map((p) => p.key);
  if (changed.length > 0) {
    throw conflict(
      `Params are immutable; already logged with another value: ${changed.slice(0, 10).join(', ')}`,
    );
  }
  return params.length;
}

/** Sets tags, overwriting the values of keys already there. */
export async function upsertTags(tx: Tx, runId: string, entries: Entry[]): Promise<number> {
  const tags = dedupe(entries, 'tags');
  if (tags.length === 0) return 0;
  await tx
    .insert(runTags)
    .values(tags.map((t) => ({ runId, ...t })))
    .onConflictDoUpdate({ target: [runTags.runId, runTags.key], set: { value: sql`excluded.value` } });
  return tags.length;
}

/** Appends points to the metrics' histories; a point without a timestamp is stamped now. */
export async function insertMetrics(tx: Tx, runId: string, metrics: MetricInput[]): Promise<number> {
  if (metrics.length === 0) return 0;
  const now = new Date();
  // SQLite caps bound variables per statement; 5 columns × 200 rows stays well inside it.
  for (let i = 0; i < metrics.length; i += 200) {
    await tx.insert(runMetrics).values(
      metrics.slice(i, i + 200).map((m) => ({
        runId,
        key: m.key,
        value: m.value,
        step: m.step,
        timestamp: m.timestamp ? new Date(m.timestamp) : now,
      })),
    );
  }
  return metrics.length;
}

/** What `log` answers when it stored nothing (a log-batch sent again): its counts, not audited again. */
class Unchanged<T> {
  constructor(readonly counts: T) {}
}

/** Runs `log` in one transaction against a run of the caller's org and audits it with the counts. */
async function logToRun<T extends Record<string, number>>(
  db: Database,
  actor: Actor,
  runId: string,
  action: AuditAction,
  log: (tx: Tx) => Promise<T | Unchanged<T>>,
): Promise<T> {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  return db.transaction(async (tx) => {
    const run = await findRun(tx, orgId, runId);
    const counts = await log(tx);
    if (counts instanceof Unchanged) return counts.counts;
    // The run's name beside the counts: the entry is read by people.
    const metadata = { name: run.name, ...counts };
    await recordAudit(tx, actor, { orgId, action, targetType: 'run', targetId: runId, metadata });
    return counts;
  });
}

export async function logParams(db: Database, actor: Actor, runId: string, params: Entry[]) {
  return logToRun(db, actor, runId, 'run.log_params', async (tx) => ({
    params: await insertParams(tx, runId, params),
  }));
}

export async function logMetrics(db: Database, actor: Actor, runId: string, metrics: MetricInput[]) {
  return logToRun(db, actor, runId, 'run.log_metrics', async (tx) => ({
    metrics: await insertMetrics(tx, runId, metrics),
  }));
}

/** Replaces the run's whole tag set with `tags`. */
export async function replaceTags(db: Database, actor: Actor, runId: string, tags: Record<string, string>) {
  const entries = Object.entries(tags).map(([key, value]) => ({ key, value }));
  const counts = await logToRun(db, actor, runId, 'run.set_tags', async (tx) => {
    const keys = entries.map((e) => e.key);
    await tx
      .delete(runTags)
      .where(and(eq(runTags.runId, runId), keys.length > 0 ? notInArray(runTags.key, keys) : undefined));
    return { tags: await upsertTags(tx, runId, entries) };
  });
  return { tags: counts.tags };
}

export interface BatchInput {
  metrics?: MetricInput[];
  params?: Entry[];
  tags?: Entry[];
}

/** Counts of what one log-batch stored. */
type Logged = { params: number; tags: number; metrics: number };

/**
 * MLflow's log-batch: all of it lands or none of it does. With an idempotency key, a body sent again (its
 * answer was lost) answers what the first stored and stores nothing more; another body under the same key
 * is a conflict.
 */
export async function logBatch(
  db: Database,
  actor: Actor,
  runId: string,
  batch: BatchInput,
  idempotencyKey?: string,
): Promise<Logged> {
  const bodySha256 = createHash('sha256').update(JSON.stringify(batch)).digest('hex');
  return logToRun(db, actor, runId, 'run.log_batch', async (tx) => {
    const earlier =
      idempotencyKey === undefined ? undefined : await earlierBatch(tx, runId, idempotencyKey, bodySha256);
    if (earlier) return new Unchanged(earlier);
    const logged = {
      params: await insertParams(tx, runId, batch.params ?? []),
      tags: await upsertTags(tx, runId, batch.tags ?? []),
      metrics: await insertMetrics(tx, runId, batch.metrics ?? []),
    };
    if (idempotencyKey !== undefined)
      await tx.insert(runLogBatches).values({ runId, idempotencyKey, bodySha256, ...logged });
    return logged;
  });
}

/** What the batch sent earlier under this key stored; undefined when none was. */
async function earlierBatch(tx: Tx, runId: string, idempotencyKey: string, bodySha256: string) {
  const [earlier] = await tx
    .select()
    .from(runLogBatches)
    .where(and(eq(runLogBatches.runId, runId), eq(runLogBatches.idempotencyKey, idempotencyKey)));
  if (!earlier) return undefined;
  if (earlier.bodySha256 !== bodySha256)
    throw conflict(`Idempotency-Key ${idempotencyKey} was used for another log-batch body on this run`);
  return { params: earlier.params, tags: earlier.tags, metrics: earlier.metrics };
}
