import {
  followLogs,
  type LogSource,
  logs,
  type MeridianClient,
  type Schema,
  type WorkloadLogLine,
} from '@meridian/sdk';
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { CliError } from '../context.js';
import { wholeNumber } from '../numbers.js';

export interface LogFlags {
  follow?: boolean;
  tail?: string;
  since?: string;
}

/** The flags every `logs` command takes. */
export function withLogFlags(command: Command): Command {
  return command
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--tail <n>', 'lines to show first, merged across replicas (0–10000, default 100)')
    .option('--since <time>', 'only lines from then on: an RFC 3339 time or a duration (90s, 10m, 2h, 1d)');
}

/** `<time> <replica> <line>`; the replica is left out where there is one (a notebook, one replica). */
function human(line: WorkloadLogLine, replicas: number): string {
  const who = replicas > 1 ? ` ${line.replica}` : '';
  const agent = line.stream === 'agent' ? ' [agent]' : line.stream === 'stderr' ? ' [stderr]' : '';
  return `${line.time}${who}${agent} ${line.line}`;
}

/**
 * What to say when no replica runs: the lines shown (if any) are of replicas removed lately, and there is
 * nothing more because the deployment is at zero, or because nothing is placed yet.
 */
function whyNoneRunning(idle: string, ended: number): string {
  return ended > 0
    ? `(${idle}: the lines are those of ${ended === 1 ? 'a replica' : `${ended} replicas`} removed lately)`
    : `(${idle}, and no replica was removed lately: no lines to show)`;
}

type LogReplica = Schema<'WorkloadLogs'>['replicas'][number];

/** A replica as a person reads it: what it belongs to, with its version where known; its id for machines. */
function replicaName(owner: string, r: LogReplica): string {
  return `${owner}${r.version === undefined ? '' : ` v${r.version}`} (replica ${r.replica})`;
}

/**
 * Prints a deployment's or notebook's log lines; with --follow, new lines as they come until Ctrl-C (exit 0).
 * Under --json: the page as JSON, or one JSON object per line when following. `idle` says why no replica
 * runs, when none does (`scaled to zero`); default: none is placed yet. `owner` is the deployment's or notebook's
 * name. When replicas there are and not one could be read, that is a failure (exit 1), not an empty log.
 */
export async function printLogs(
  ctx: Context,
  client: MeridianClient,
  source: LogSource,
  owner: string,
  flags: LogFlags,
  idle = 'no replica is placed yet',
) {
  const options = {
    ...(flags.tail === undefined ? {} : { tail: wholeNumber(flags.tail, '--tail', 0, 10_000) }),
    ...(flags.since === undefined ? {} : { since: flags.since }),
  };
  const json = ctx.options.json === true;
  if (!flags.follow) {
    const page = await logs(client, source, options);
    const missing = page.replicas.filter((r) => r.error);
    if (page.replicas.length > 0 && missing.length === page.replicas.length) {
      const why = missing.map((r) => `${replicaName(owner, r)}: ${r.error}`).join('; ');
      throw new CliError(`No log line of ${owner} could be read: ${why}`);
    }
    for (const r of missing) ctx.note(`(${replicaName(owner, r)}: ${r.error})`);
    const ended = page.replicas.filter((r) => r.phase === 'ended').length;
    if (ended === page.replicas.length) ctx.note(whyNoneRunning(idle, ended));
    ctx.print(page, () => page.lines.map((l) => human(l, page.replicas.length)).join('\n'));
    return;
  }
  const stop = new AbortController();
  const interrupted = () => stop.abort();
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const replicas = new Set<string>();
    const lines = followLogs(client, source, {
      ...options,
      signal: stop.signal,
      onReplicaEnded: (e) => ctx.note(`(replica ${e.replica}: ${e.reason})`),
    });
    for await (const line of lines) {
      replicas.add(line.replica);
      process.stdout.write(json ? `${JSON.stringify(line)}\n` : `${human(line, replicas.size)}\n`);
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
