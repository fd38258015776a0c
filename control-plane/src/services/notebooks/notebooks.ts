import { type GpuType, newId } from '@meridian/protocol';
import { and, desc, eq, isNotNull, isNull, lt } from 'drizzle-orm';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { notebookSessions, notebooks } from '../../db/schema.js';
import { violatesUnique } from '../../db/unique-violation.js';
import { conflict } from '../../errors.js';
import { randomSecret } from '../../lib/secrets.js';
import { recordAudit } from '../audit/record.js';
import { assertImageAllowed } from '../images/images.js';
import { idCursor, splitPage } from '../pagination.js';
import { resolveGpuCount } from '../workloads/gpu-request.js';
import { agentsHolding, notifyAgents } from '../workloads/holders.js';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_NOTEBOOK_IMAGE, type NotebookDeps } from './deps.js';
import { assertMayControl, findNotebook, notebookCaller, presentNotebook } from './records.js';
import { deleteSavedVolumes } from './volumes.js';

export interface NotebookInput {
  name: string;
  gpuType: GpuType;
  gpuCount?: number;
  image?: string;
  idleTimeoutSeconds?: number;
}

const nameTaken = (name: string) => conflict(`A notebook named ${JSON.stringify(name)} already exists`);

/** A notebook of the caller's, asked to run; the scheduler places it and the agent starts Jupyter. */
export async function createNotebook(deps: NotebookDeps, actor: Actor, input: NotebookInput) {
  const user = notebookCaller(actor.principal, 'notebooks:write');
  const gpuCount = resolveGpuCount(input.gpuType, input.gpuCount);
  // Refused here as a 400 naming `image`, not later by the agent as a failed start.
  if (input.image) await assertImageAllowed(deps.db, user.orgId, input.image);
  const id = newId('notebook');
  try {
    await deps.db.transaction(async (tx) => {
      const [taken] = await tx
        .select({ id: notebooks.id })
        .from(notebooks)
        .where(and(eq(notebooks.orgId, user.orgId), eq(notebooks.name, input.name)));
      if (taken) throw nameTaken(input.name);
      await tx.insert(notebooks).values({
        id,
        orgId: user.orgId,
        ownerId: user.userId,
        name: input.name,
        gpuType: input.gpuType,
        gpuCount,
        image: input.image ?? deps.defaultImage ?? DEFAULT_NOTEBOOK_IMAGE,
        idleTimeoutSeconds: input.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
        desired: 'running',
        status: 'pending',
        // Jupyter's token: 32 random bytes, 43 base64url characters.
        token: randomSecret(32),
        updatedAt: new Date(),
      });
      await recordAudit(tx, actor, {
        orgId: user.orgId,
        action: 'notebook.create',
        targetType: 'notebook',
        targetId: id,
        metadata: { name: input.name, gpuType: input.gpuType, gpuCount },
      });
    });
  } catch (err) {
    if (violatesUnique(err, 'notebooks.org_id, notebooks.name')) throw nameTaken(input.name);
    throw err;
  }
  deps.scheduler.kick();
  return presentNotebook(await findNotebook(deps.db, user.orgId, id), user, deps);
}

/** Every notebook of the org, newest first; each caller sees only their own tokens. */
export async function listNotebooks(
  deps: NotebookDeps,
  actor: Actor,
  page: { limit: number; cursor?: string },
) {
  const user = notebookCaller(actor.principal, 'notebooks:read');
  const after = idCursor(page.cursor, 'nb');
  const rows = await deps.db
    .select()
    .from(notebooks)
    .where(and(eq(notebooks.orgId, user.orgId), after ? lt(notebooks.id, after) : undefined))
    .orderBy(desc(notebooks.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return { items: items.map((r) => presentNotebook(r, user, deps)), nextCursor };
}

export async function getNotebook(deps: NotebookDeps, actor: Actor, id: string) {
  const user = notebookCaller(actor.principal, 'notebooks:read');
  return presentNotebook(await findNotebook(deps.db, user.orgId, id), user, deps);
}

/**
 * Asks for the notebook to run or to stop. Asking for what is already asked is a 200 that writes nothing;
 * the scheduler moves `status` towards `desired`, keeping the notebook's volume across a stop.
 */
export async function setNotebookDesired(
  deps: NotebookDeps,
  actor: Actor,
  id: string,
  desired: 'running' | 'stopped',
) {
  const user = notebookCaller(actor.principal, 'notebooks:write');
  await deps.db.transaction(async (tx) => {
    const row = await findNotebook(tx, user.orgId, id);
    assertMayControl(user, row, desired === 'running' ? 'start' : 'stop');
    if (row.desired === desired) return;
    await tx.update(notebooks).set({ desired, updatedAt: new Date() }).where(eq(notebooks.id, id));
    await recordAudit(tx, actor, {
      orgId: user.orgId,
      action: desired === 'running' ? 'notebook.start' : 'notebook.stop',
      targetType: 'notebook',
      targetId: id,
      metadata: { name: row.name, ownerId: row.ownerId },
    });
  });
  deps.scheduler.kick();
  return presentNotebook(await findNotebook(deps.db, user.orgId, id), user, deps);
}

/**
 * Asks every notebook `userId` owns in `orgId` to stop, in the caller's transaction: a member removed from
 * the org could no longer use or stop them, and they would run (and bill the org, GPUs included) until idle,
 * which a busy kernel never is. Their files are saved as at any stop; an owner or admin may delete them.
 */
export async function stopNotebooksOf(
  tx: Pick<Database, 'select' | 'update' | 'insert'>,
  actor: Actor,
  orgId: string,
  userId: string,
): Promise<void> {
  const running = await tx
    .select({ id: notebooks.id, name: notebooks.name })
    .from(notebooks)
    .where(and(eq(notebooks.orgId, orgId), eq(notebooks.ownerId, userId), eq(notebooks.desired, 'running')));
  for (const nb of running) {
    await tx
      .update(notebooks)
      .set({ desired: 'stopped', updatedAt: new Date() })
      .where(eq(notebooks.id, nb.id));
    await recordAudit(tx, actor, {
      orgId,
      action: 'notebook.stop',
      targetType: 'notebook',
      targetId: nb.id,
      metadata: { name: nb.name, ownerId: userId, reason: 'member.remove' },
    });
  }
}

/**
 * Deletes a notebook (its workload cascades), its saved files, and ends its open session, which stays for
 * billing. The agents that hold it or ever ran it are woken: one running it stops it, and each removes the
 * files, system user and save marker it keeps of it.
 */
export async function deleteNotebook(deps: NotebookDeps, actor: Actor, id: string): Promise<void> {
  const user = notebookCaller(actor.principal, 'notebooks:write');
  const holders = await deps.db.transaction(async (tx) => {
    const row = await findNotebook(tx, user.orgId, id);
    assertMayControl(user, row, 'delete');
    const agentIds = await agentsKeepingFiles(tx, id);
    await tx.delete(notebooks).where(eq(notebooks.id, id));
    await endOpenSession(tx, id, 'deleted');
    await recordAudit(tx, actor, {
      orgId: user.orgId,
      action: 'notebook.delete',
      targetType: 'notebook',
      targetId: id,
      metadata: { name: row.name, ownerId: row.ownerId },
    });
    return agentIds;
  });
  // After the row is gone, so a save still streaming in is refused rather than left behind (see its doc).
  await deleteSavedVolumes(deps, user.orgId, id);
  await notifyAgents(deps.db, deps.changes, holders);
  deps.scheduler.kick();
}

/** The agents holding the notebook now and those that ran it: each may keep its files. */
async function agentsKeepingFiles(tx: Pick<Database, 'selectDistinct'>, notebookId: string) {
  const ran = await tx
    .selectDistinct({ agentId: notebookSessions.agentId })
    .from(notebookSessions)
    .where(and(eq(notebookSessions.notebookId, notebookId), isNotNull(notebookSessions.agentId)));
  const holding = await agentsHolding(tx, { notebookId });
  return [...new Set([...holding, ...ran.flatMap((r) => (r.agentId === null ? [] : [r.agentId]))])];
}

/** The notebook's runs, newest first: what billing charges as GPU time. */
export async function listNotebookSessions(
  deps: NotebookDeps,
  actor: Actor,
  id: string,
  page: { limit: number; cursor?: string },
) {
  const user = notebookCaller(actor.principal, 'notebooks:read');
  await findNotebook(deps.db, user.orgId, id);
  const after = idCursor(page.cursor, 'nbs');
  const rows = await deps.db
    .select()
    .from(notebookSessions)
    .where(and(eq(notebookSessions.notebookId, id), after ? lt(notebookSessions.id, after) : undefined))
    .orderBy(desc(notebookSessions.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return {
    items: items.map((r) => ({
      id: r.id,
      startedAt: r.startedAt.toISOString(),
      endedAt: r.endedAt?.toISOString() ?? null,
      seconds: r.seconds,
      gpuType: r.gpuType,
      gpuCount: r.gpuCount,
      endReason: r.endReason,
    })),
    nextCursor,
  };
}

/** Closes the notebook's running session, if any, at now. */
async function endOpenSession(tx: Pick<Database, 'select' | 'update'>, notebookId: string, reason: string) {
  const now = new Date();
  const open = await tx
    .select({ id: notebookSessions.id, startedAt: notebookSessions.startedAt })
    .from(notebookSessions)
    .where(and(eq(notebookSessions.notebookId, notebookId), isNull(notebookSessions.endedAt)));
  for (const s of open) {
    const seconds = Math.max(0, Math.round((now.getTime() - s.startedAt.getTime()) / 1000));
    await tx
      .update(notebookSessions)
      .set({ endedAt: now, seconds, endReason: reason })
      .where(eq(notebookSessions.id, s.id));
  }
}
