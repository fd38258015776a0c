import {
  type MeridianClient,
  NotebookFailedError,
  NotebookLinkError,
  notebookLink,
  type Schema,
  waitForNotebook,
} from '@meridian/sdk';
import type { Command } from 'commander';
import { CliError, type Context, EXIT } from '../context.js';
import { wholeNumber } from '../numbers.js';

type Notebook = Schema<'Notebook'>;

// The states a notebook passes through on its way to what its owner asked for.
const ON_THE_WAY: Record<Notebook['desired'], readonly Notebook['status'][]> = {
  running: ['pending', 'starting', 'running'],
  stopped: ['stopping', 'stopped'],
};

/**
 * A notebook in one line. Just after `stop`, the server still reports it running: the arrow says where it
 * goes, and the reason, which speaks of the state it leaves, is left out. A failure keeps its reason.
 */
export function notebookLine(n: Notebook): string {
  if (n.status !== 'failed' && !ON_THE_WAY[n.desired].includes(n.status))
    return `${n.name} (${n.id}): ${n.status} → ${n.desired}`;
  return `${n.name} (${n.id}): ${n.status}${n.statusReason ? ` (${n.statusReason})` : ''}`;
}

/** A notebook asked to stop is "stopping" until it has, though the server still reports it running. */
function stoppedWord(n: Notebook): string {
  return n.status === 'stopped' || n.status === 'failed' ? n.status : 'stopping';
}

/** `--wait` (what it waits for) and `--timeout`, as create, start and open take them. */
export function withWaitFlags(command: Command, waits: string): Command {
  return command.option('--wait', waits).option('--timeout <seconds>', 'how long --wait waits', '600');
}

/** `--timeout` of create, start and open --wait, in seconds: a day at most. */
export function waitTimeoutMs(value: string | undefined): number {
  return wholeNumber(value ?? '600', '--timeout', 1, 86_400) * 1000;
}

/** Waits until the notebook serves, a line per change; a failure (or a stop meanwhile) exits 4 with its reason. */
export async function waitUntilServing(
  ctx: Context,
  client: MeridianClient,
  notebook: Notebook,
  timeoutMs: number,
): Promise<Notebook> {
  // Nothing would start it: waiting could only time out.
  if (notebook.desired === 'stopped')
    throw new CliError(
      `Notebook ${notebook.name} is ${stoppedWord(notebook)}: \`meridian notebooks start ${notebook.name} --wait\` starts it`,
    );
  try {
    return await waitForNotebook(client, notebook.id, {
      timeoutMs,
      intervalMs: 500,
      onChange: (n) => ctx.note(notebookLine(n)),
    });
  } catch (err) {
    if (err instanceof NotebookFailedError)
      throw new CliError(
        `Notebook ${notebook.name} did not start: ${err.reason} (its log: meridian notebooks logs ${notebook.name})`,
        EXIT.notebookFailed,
      );
    throw err;
  }
}

/**
 * The link that opens the notebook in a browser, with what a user must know about it: it carries their
 * login (so it is theirs alone) until a stated time, and a notebook that does not serve yet answers later.
 */
export async function printLink(ctx: Context, client: MeridianClient, notebook: Notebook): Promise<void> {
  let link: { url: string; expiresAt: number };
  try {
    link = await notebookLink(client, notebook);
  } catch (err) {
    // Not the owner, or an API key instead of a login: the user's to act on, not a failure to debug.
    if (err instanceof NotebookLinkError) throw new CliError(err.message);
    throw err;
  }
  const until = new Date(link.expiresAt).toISOString().slice(11, 16);
  ctx.print(
    {
      id: notebook.id,
      name: notebook.name,
      status: notebook.status,
      url: link.url,
      expiresAt: link.expiresAt,
    },
    () => link.url,
  );
  ctx.note(
    `Open it in a browser before ${until} UTC: the link carries your login, which the edge swaps for a cookie for this notebook only. Do not share it.`,
  );
  if (notebook.desired === 'stopped' || notebook.status === 'failed')
    ctx.note(
      `${notebook.name} is ${stoppedWord(notebook)}: \`meridian notebooks start ${notebook.name} --wait\` starts it.`,
    );
  else if (notebook.status !== 'running')
    ctx.note(
      `${notebook.name} is ${notebook.status}: the page answers once its server is up (--wait waits for it).`,
    );
}
