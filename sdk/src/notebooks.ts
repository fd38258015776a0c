import type { MeridianClient } from './client.js';
import { NotebookFailedError, NotebookLinkError } from './errors.js';
import { pollUntil, type WaitOptions } from './poll.js';
import type { Schema } from './types.js';

type Notebook = Schema<'Notebook'>;

export type NotebookWaitOptions = WaitOptions<Notebook>;

/**
 * Waits until the notebook's Jupyter server serves (pending → starting → running) and returns the notebook;
 * throws NotebookFailedError with the server's reason when it fails or is stopped meanwhile, and
 * WaitTimeoutError past the timeout.
 */
export function waitForNotebook(
  client: MeridianClient,
  id: string,
  options: NotebookWaitOptions = {},
): Promise<Notebook> {
  return pollUntil(() => client.request('get', '/v1/notebooks/{id}', { path: { id } }), options, {
    seen: (n) => [n.status, n.statusReason],
    settle: (n) => {
      if (n.status === 'failed') throw new NotebookFailedError(id, n.statusReason ?? 'no reason given');
      if (n.desired === 'stopped') throw new NotebookFailedError(id, 'it was stopped while starting');
      return n.status === 'running' ? n : undefined;
    },
    timedOut: (n) => `Notebook ${n.name} is still ${n.status} after the timeout`,
  });
}

/** Five minutes: long enough to paste a link into a browser, and the least a link is good for. */
export const NOTEBOOK_LINK_MIN_VALIDITY_MS = 5 * 60_000;

/**
 * The address that opens a notebook in a browser: its access URL with the owner's access token, which the
 * edge trades for a cookie scoped to this notebook and drops from the address. The token is renewed first
 * unless it stays valid for `validForMs` more; the link works until `expiresAt` (ms since the epoch), and it
 * carries the login, so it is the owner's alone. Needs a user login (an API key never opens a notebook) and
 * a notebook of one's own (only the owner sees its access URL); NotebookLinkError says which is missing.
 */
export async function notebookLink(
  client: MeridianClient,
  notebook: Pick<Notebook, 'id' | 'name' | 'accessUrl'>,
  validForMs = NOTEBOOK_LINK_MIN_VALIDITY_MS,
): Promise<{ url: string; expiresAt: number }> {
  if (!notebook.accessUrl)
    throw new NotebookLinkError(
      `Notebook ${notebook.name} has no access URL for you: only its owner opens it`,
    );
  const login = await client.linkToken(validForMs);
  if (!login) throw new NotebookLinkError('A notebook opens with a user login, not an API key: log in first');
  const url = new URL(notebook.accessUrl);
  url.searchParams.set('access_token', login.token);
  return { url: url.toString(), expiresAt: login.expiresAt };
}
