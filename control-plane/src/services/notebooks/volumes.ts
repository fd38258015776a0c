import type { Readable } from 'node:stream';
import type { NotebookSaveFailure } from '@meridian/protocol';
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agents, notebookSessions, notebooks, workloads } from '../../db/schema.js';
import { AppError, conflict, notFound } from '../../errors.js';
import type { Logger } from '../../lib/logger.js';
import type { ObjectBody, ObjectStore } from '../../storage/object-store.js';
import { clearSaveFailure, recordSaveFailure } from './save-outcome.js';

export interface NotebookVolumeDeps {
  db: Database;
  objectStore: ObjectStore;
  /** Where a storage failure's detail goes: the agent (and the notebook's owner) read only that it failed. */
  logger?: Logger;
  /** Longest a start waits for the files of the run before it, still being saved by another agent. */
  saveWaitMs?: number;
  /** The most a notebook's files may take as one tar; default MAX_NOTEBOOK_VOLUME_BYTES (2 GiB). */
  maxVolumeBytes?: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Saves sort by time within one notebook's prefix: 13 digits hold every millisecond time until 2286. */
const stamp = (ms: number) => String(ms).padStart(13, '0');
const prefixOf = (orgId: string, notebookId: string) => {
  if (!ID.test(orgId) || !ID.test(notebookId)) throw new Error('volume keys are built from ids only');
  return `orgs/${orgId}/notebooks/${notebookId}/volumes/`;
};

/** A notebook's files as one tar, as an agent saved them when the notebook stopped; `savedAt` in ms. */
export interface SavedVolume {
  savedAt: number;
  object: ObjectBody;
}

/**
 * Keeps the files of a notebook the calling agent ran (its last run was there) in object storage, so the
 * next start on any agent finds them. Older saves are removed once this one is durable.
 *
 * A delete of the notebook may run while the tar streams in. The delete removes the row, then whatever is
 * under the notebook's prefix; the save looks for the row again once its object is durable, and removes
 * that object itself (answering 404) when the row is gone. Whichever order they interleave in, one of
 * the two sees the object: no save outlives its notebook.
 */
export async function saveNotebookVolume(
  deps: NotebookVolumeDeps,
  agentId: string,
  notebookId: string,
  body: Readable,
  /** Only over this save (`none`: only while none is stored): a copy made from an older one is refused. */
  over?: { savedAt: number } | 'none',
): Promise<{ savedAt: number; sizeBytes: number }> {
  const row = await assertRanThere(deps.db, agentId, notebookId);
  const prefix = prefixOf(row.orgId, notebookId);
  if (over !== undefined) {
    const latest = await latestSave(deps.objectStore, prefix);
    if (over === 'none' ? latest !== undefined : latest !== over.savedAt)
      throw conflict('Newer files of the notebook were saved since this copy was made');
  }
  const savedAt = Date.now();
  const stored = await deps.objectStore
    .put(`${prefix}${stamp(savedAt)}`, body, { contentType: 'application/x-tar' })
    .catch((error: unknown) => {
      // A refusal the agent caused (a body over the limit) is its own error; anything else is storage's.
      if (error instanceof AppError) throw error;
      deps.logger?.error('notebook files not stored', { orgId: row.orgId, notebookId, error });
      throw new AppError(
        'unavailable',
        'The platform’s file storage did not take the files; try again later',
      );
    });
  if (!(await notebookExists(deps.db, notebookId))) {
    await deps.objectStore.delete(stored.key);
    throw notFound('Notebook');
  }
  for await (const old of deps.objectStore.list(prefix))
    if (old.key !== stored.key && old.key < stored.key) await deps.objectStore.delete(old.key);
  await clearSaveFailure(deps.db, notebookId);
  return { savedAt, sizeBytes: stored.sizeBytes };
}

/**
 * The agent that last ran the notebook gave up saving its files (see NotebookSaveFailure): its owner reads
 * so on the stopped notebook, with what to do. Another agent's report is as missing as a deleted notebook.
 */
export async function reportNotebookSaveFailure(
  db: Database,
  agentId: string,
  notebookId: string,
  failure: NotebookSaveFailure,
): Promise<void> {
  await assertRanThere(db, agentId, notebookId);
  await recordSaveFailure(db, notebookId, failure);
}

/** The notebook, when its last run was on `agentId` or it is placed there now; else 404. */
async function assertRanThere(db: Database, agentId: string, notebookId: string) {
  const row = await notebookOf(db, notebookId);
  const [last] = await sessionsOf(db, notebookId, 1);
  if (last?.agentId !== agentId && !(await holds(db, agentId, notebookId))) throw notFound('Notebook');
  return row;
}

/**
 * Deletes every save of a notebook whose row is already gone (see saveNotebookVolume for a save that races
 * it). A failure leaves files nobody can reach but that cost storage: logged, as the delete has committed.
 */
export async function deleteSavedVolumes(
  deps: { objectStore: ObjectStore; logger: Logger },
  orgId: string,
  notebookId: string,
): Promise<void> {
  try {
    for await (const object of deps.objectStore.list(prefixOf(orgId, notebookId)))
      await deps.objectStore.delete(object.key);
  } catch (error) {
    deps.logger.error('notebook files left behind', { orgId, notebookId, error });
  }
}

/**
 * Of `notebookIds`, those deleted that the calling agent ran: the files it keeps of them are nobody's.
 * A notebook it never ran is never named, deleted or not, so an agent learns nothing of others' notebooks.
 */
export async function deletedNotebooksOf(
  db: Database,
  agentId: string,
  notebookIds: string[],
): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: notebookSessions.notebookId })
    .from(notebookSessions)
    .leftJoin(notebooks, eq(notebooks.id, notebookSessions.notebookId))
    .where(
      and(
        eq(notebookSessions.agentId, agentId),
        inArray(notebookSessions.notebookId, notebookIds),
        isNull(notebooks.id),
      ),
    );
  return rows.map((r) => r.id);
}

/**
 * The latest saved files of a notebook the calling agent is to run, or undefined when none were ever saved.
 * When its previous run ended on another agent that is still online, waits (up to `saveWaitMs`) for that
 * agent's save, so a quick stop-and-start never restores files older than the last run's.
 */
export async function openNotebookVolume(
  deps: NotebookVolumeDeps,
  agentId: string,
  notebookId: string,
  signal?: AbortSignal,
): Promise<SavedVolume | undefined> {
  const row = await notebookOf(deps.db, notebookId);
  if (!(await holds(deps.db, agentId, notebookId))) throw notFound('Notebook');
  const prefix = prefixOf(row.orgId, notebookId);
  const deadline = Date.now() + (deps.saveWaitMs ?? 60_000);
  let latest = await latestSave(deps.objectStore, prefix);
  while (
    Date.now() < deadline &&
    !signal?.aborted &&
    (await awaitsSave(deps.db, agentId, notebookId, latest))
  ) {
    await new Promise((r) => setTimeout(r, 500));
    latest = await latestSave(deps.objectStore, prefix);
  }
  if (latest === undefined) return undefined;
  const object = await deps.objectStore.get(`${prefix}${stamp(latest)}`);
  return object && { savedAt: latest, object };
}

/** Whether the run before this one ended on another online agent after the latest save: its save is due. */
async function awaitsSave(db: Database, agentId: string, notebookId: string, latest: number | undefined) {
  const [previous] = (await sessionsOf(db, notebookId, 2)).filter((s) => s.endedAt !== null);
  if (!previous?.endedAt || !previous.agentId || previous.agentId === agentId) return false;
  if (latest !== undefined && latest >= previous.endedAt.getTime()) return false;
  const [agent] = await db
    .select({ status: agents.status })
    .from(agents)
    .where(eq(agents.id, previous.agentId));
  return agent?.status === 'online' || agent?.status === 'draining';
}

async function latestSave(store: ObjectStore, prefix: string): Promise<number | undefined> {
  let latest: string | undefined;
  for await (const object of store.list(prefix))
    if (latest === undefined || object.key > latest) latest = object.key;
  return latest === undefined ? undefined : Number(latest.slice(prefix.length));
}

async function notebookOf(db: Database, notebookId: string) {
  const [row] = await db
    .select({ orgId: notebooks.orgId })
    .from(notebooks)
    .where(eq(notebooks.id, notebookId));
  if (!row) throw notFound('Notebook');
  return row;
}

async function notebookExists(db: Database, notebookId: string): Promise<boolean> {
  const [row] = await db.select({ id: notebooks.id }).from(notebooks).where(eq(notebooks.id, notebookId));
  return row !== undefined;
}

function sessionsOf(db: Database, notebookId: string, limit: number) {
  return db
    .select({ agentId: notebookSessions.agentId, endedAt: notebookSessions.endedAt })
    .from(notebookSessions)
    .where(eq(notebookSessions.notebookId, notebookId))
    .orderBy(desc(notebookSessions.startedAt))
    .limit(limit);
}

/** Whether a workload of the notebook is placed on the agent now. */
async function holds(db: Database, agentId: string, notebookId: string): Promise<boolean> {
  const [w] = await db
    .select({ id: workloads.id })
    .from(workloads)
    .where(and(eq(workloads.notebookId, notebookId), eq(workloads.agentId, agentId)));
  return w !== undefined;
}
