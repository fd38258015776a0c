import { z } from 'zod';

/** A notebook's id as the control plane mints it (`nb_` and base32 letters). */
export const NotebookId = z.string().regex(/^nb_[0-9a-z]{10,64}$/);
export type NotebookId = z.infer<typeof NotebookId>;

/**
 * `POST /agent/v1/notebooks/deleted`: notebooks whose files an agent keeps though it runs them no more
 * (they stopped there), at most 500 a call.
 */
export const DeletedNotebooksQuery = z.strictObject({
  notebookIds: z.array(NotebookId).min(1).max(500),
});
export type DeletedNotebooksQuery = z.infer<typeof DeletedNotebooksQuery>;

/**
 * Those of the asked notebooks that were deleted and that the asking agent ran: its files of them are
 * nobody's any more. A notebook it never ran is never named, so an agent learns nothing of others'.
 */
export const DeletedNotebooks = z.object({ deleted: z.array(z.string()) });
export type DeletedNotebooks = z.infer<typeof DeletedNotebooks>;

/**
 * Why an agent could not save a stopped notebook's files, after retrying: `storage` the control plane's
 * object storage did not take them (it answered 5xx), `unreachable` the control plane did not answer,
 * `too-large` over the size limit, `unreadable` the files could not be read on the host, `refused` any
 * other refusal. A cause, never the agent's own error text: that may name host paths.
 */
export const NotebookSaveCause = z.enum(['storage', 'unreachable', 'too-large', 'unreadable', 'refused']);
export type NotebookSaveCause = z.infer<typeof NotebookSaveCause>;

/** `POST /agent/v1/notebooks/{id}/volume/failure`: the agent gave up saving; the files stay on its host. */
export const NotebookSaveFailure = z.strictObject({
  cause: NotebookSaveCause,
  /** How many times it tried. */
  attempts: z.number().int().min(1).max(1000),
});
export type NotebookSaveFailure = z.infer<typeof NotebookSaveFailure>;
