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
