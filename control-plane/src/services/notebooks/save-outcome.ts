import type { NotebookSaveFailure } from '@meridian/protocol';
import { and, eq, like } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notebooks } from '../../db/schema.js';

// How a stopped notebook's save ended, as its owner reads it: the status reason of the stopped notebook
// (GET /v1/notebooks/{id}, the CLI's line, the dashboard's card). A failed save is said there until a save
// of it succeeds or it starts again.

/** Every reason for a failed save starts so: a later successful save knows which reason to clear. */
export const SAVE_FAILED_PREFIX = 'stopped, but its files could not be saved';

const CAUSES: Record<NotebookSaveFailure['cause'], string> = {
  storage: 'the platform’s file storage did not take them',
  unreachable: 'its host could not reach the control plane',
  'too-large': 'they are larger than a notebook’s files may be',
  unreadable: 'its host could not read them',
  refused: 'the control plane refused them',
};

/** What its owner reads: why, that the files are still on the host that ran it, and what to do. */
export function saveFailureReason(failure: NotebookSaveFailure): string {
  const tries = failure.attempts === 1 ? 'once' : `${failure.attempts} times`;
  return (
    `${SAVE_FAILED_PREFIX}: ${CAUSES[failure.cause]} (tried ${tries}). They are still on the host that ran ` +
    'it: start the notebook again to retry; a start on that host saves them first, a start on another host ' +
    'opens the files saved before'
  );
}

/** Records a failed save on a notebook that is stopped and asked to stay so (a started one has moved on). */
export async function recordSaveFailure(
  db: Database,
  notebookId: string,
  failure: NotebookSaveFailure,
): Promise<void> {
  await db
    .update(notebooks)
    .set({ statusReason: saveFailureReason(failure), updatedAt: new Date() })
    .where(
      and(eq(notebooks.id, notebookId), eq(notebooks.status, 'stopped'), eq(notebooks.desired, 'stopped')),
    );
}

/** A save succeeded: a failure said before is no longer true. */
export async function clearSaveFailure(db: Database, notebookId: string): Promise<void> {
  await db
    .update(notebooks)
    .set({ statusReason: null, updatedAt: new Date() })
    .where(and(eq(notebooks.id, notebookId), like(notebooks.statusReason, `${SAVE_FAILED_PREFIX}%`)));
}
