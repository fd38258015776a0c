import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type NotebookSaveFailure,
  NotebookSaveFailure as NotebookSaveFailureSchema,
} from '@meridian/protocol';
import { z } from 'zod';

const UNSAVED_SUFFIX = '.unsaved';

/** A save given up on: why, and whether the control plane has heard of it yet. */
const UnsavedMark = NotebookSaveFailureSchema.extend({ reported: z.boolean() });
export type UnsavedMark = z.infer<typeof UnsavedMark>;

/** One try of a save that did not end in `saved` or `gone`: whether another try may do better. */
export class SaveAttemptError extends Error {
  constructor(
    readonly saveCause: NotebookSaveFailure['cause'],
    readonly retryable: boolean,
    detail: string,
  ) {
    super(detail);
    this.name = 'SaveAttemptError';
  }
}

/** The save of a stopped notebook's files failed after every try; the files stay on this host. */
export class NotebookSaveError extends Error {
  constructor(
    readonly failure: NotebookSaveFailure,
    detail: string,
  ) {
    super(`saving the notebook's files failed after ${failure.attempts} tries (${failure.cause}): ${detail}`);
    this.name = 'NotebookSaveError';
  }
}

/** How an answer to a save's PUT other than 201 and 404 reads: 5xx and 429 may pass, the rest will not. */
export function answerFailure(status: number, text: string): SaveAttemptError {
  const detail = `saving the files answered ${status}: ${text.slice(0, 500)}`;
  if (status === 413) return new SaveAttemptError('too-large', false, detail);
  if (status === 503) return new SaveAttemptError('storage', true, detail);
  return new SaveAttemptError('refused', status >= 500 || status === 429, detail);
}

/**
 * Marks, in the agent's private state dir, the notebooks whose files this host holds unsaved (the last save
 * of them failed): their next start here saves them before anything is restored over them, and a failure
 * the control plane has not heard of is told it after the next desired state.
 */
export class UnsavedMarks {
  constructor(private readonly dir: string) {}

  async get(notebookId: string): Promise<UnsavedMark | undefined> {
    const text = await readFile(this.path(notebookId), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const parsed = UnsavedMark.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : { cause: 'refused', attempts: 1, reported: false };
    } catch {
      return { cause: 'refused', attempts: 1, reported: false }; // a torn write: still unsaved
    }
  }

  async set(notebookId: string, mark: UnsavedMark): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(this.path(notebookId), JSON.stringify(mark), { mode: 0o600 });
  }

  async clear(notebookId: string): Promise<void> {
    await rm(this.path(notebookId), { force: true });
  }

  /** The notebooks marked unsaved whose failure the control plane has not heard yet. */
  async unreported(): Promise<{ notebookId: string; mark: UnsavedMark }[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const found: { notebookId: string; mark: UnsavedMark }[] = [];
    for (const name of names.filter((n) => n.endsWith(UNSAVED_SUFFIX))) {
      const notebookId = safeDecode(name.slice(0, -UNSAVED_SUFFIX.length));
      const mark = notebookId && (await this.get(notebookId));
      if (notebookId && mark && !mark.reported) found.push({ notebookId, mark });
    }
    return found;
  }

  private path(notebookId: string): string {
    return join(this.dir, `${encodeURIComponent(notebookId)}${UNSAVED_SUFFIX}`);
  }
}

function safeDecode(name: string): string | undefined {
  try {
    return decodeURIComponent(name) || undefined;
  } catch {
    return undefined;
  }
}
