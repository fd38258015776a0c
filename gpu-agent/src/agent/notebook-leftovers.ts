import { type DesiredState, NotebookId } from '@meridian/protocol';
import { type ApiClient, describeApiError } from './api-client.js';
import type { Logger } from './logger.js';
import type { NotebookVolumes } from './notebook-volumes.js';

/** The most ids one question names (the control plane's limit). */
const BATCH = 500;

/**
 * A notebook stopped here keeps its files, its system user and its save marker on this host for its next
 * start. When it is deleted no desired state names it any more, so no stop tells this agent: after each
 * desired state (the first comes at start; the control plane moves the version of every agent that ran a
 * notebook it deletes), the notebooks kept here that it does not name are asked about, and what is kept of
 * the deleted ones is removed. Those it names are left to the reconciler; existing ones stay as they are.
 */
export class NotebookLeftovers {
  constructor(
    private readonly volumes: Pick<NotebookVolumes, 'kept' | 'forget' | 'reportUnsaved'>,
    private readonly log: Logger,
  ) {}

  /** Never throws: what cannot be asked or removed now is tried again after the next desired state. */
  async removeDeleted(state: DesiredState, api: Pick<ApiClient, 'deletedNotebooks'>): Promise<void> {
    // A save given up on while the control plane could not be told (it was down): told now it answers.
    await this.volumes.reportUnsaved().catch(() => undefined);
    try {
      const held = new Set(state.workloads.flatMap((w) => (w.kind === 'notebook' ? [w.notebookId] : [])));
      const idle = (await this.volumes.kept()).filter(
        (id) => !held.has(id) && NotebookId.safeParse(id).success,
      );
      for (let i = 0; i < idle.length; i += BATCH) {
        const batch = idle.slice(i, i + BATCH);
        const asked = await api.deletedNotebooks({ notebookIds: batch });
        if (!asked.ok) {
          this.log.warn('could not ask which notebooks were deleted', {
            error: describeApiError(asked.error),
          });
          return;
        }
        // Only what was asked: an answer never names what this host removes.
        for (const notebookId of batch.filter((id) => asked.value.deleted.includes(id))) {
          await this.volumes.forget(notebookId);
          this.log.info('removed the files of a deleted notebook', { notebookId });
        }
      }
    } catch (err) {
      this.log.warn('could not remove the files of deleted notebooks', { error: String(err) });
    }
  }
}
