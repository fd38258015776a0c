import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { WorkloadDirs } from './workload-dirs.js';

const run = promisify(execFile);

/** Whether this agent can run tenant workloads isolated, and why not when it cannot. */
export type IsolationStatus = { ok: true } | { ok: false; reason: string };

/** Host tools the isolated launch needs (util-linux, passwd, iproute2: on every Debian install). */
const TOOLS = ['useradd', 'userdel', 'getent', 'setpriv', 'unshare', 'prlimit', 'ip', 'mount'] as const;

/** Raised instead of starting a tenant workload this agent cannot isolate; the message is its status reason. */
export class IsolationUnavailableError extends Error {
  constructor(reason: string) {
    super(`this agent cannot isolate tenant workloads, so it refuses to run them: ${reason}`);
    this.name = 'IsolationUnavailableError';
  }
}

/**
 * Checks, once at start-up, what the process runtime's isolation needs: root (to create workload users and
 * network namespaces; there is no rootless path yet), the tools, and a workloads root its users can reach.
 * The runtime refuses every tenant workload with the reason when any of it is missing.
 */
export async function probeIsolation(
  dirs: WorkloadDirs,
  uid = process.getuid?.() ?? -1,
): Promise<IsolationStatus> {
  if (uid !== 0) {
    return {
      ok: false,
      reason: `the agent runs as uid ${uid}, not root: it cannot create a user per workload or a network namespace`,
    };
  }
  const missing: string[] = [];
  for (const tool of TOOLS) {
    if (!(await onPath(tool))) missing.push(tool);
  }
  if (missing.length > 0) return { ok: false, reason: `missing host tools: ${missing.join(', ')}` };
  try {
    await dirs.prepare();
  } catch (error) {
    return {
      ok: false,
      reason: `cannot prepare ${dirs.root}: ${error instanceof Error ? error.message : error}`,
    };
  }
  const unreachable = await dirs.unreachableReason();
  if (unreachable) return { ok: false, reason: unreachable };
  try {
    // A network namespace of its own keeps a workload off the host's ports and the metadata address; a mount
    // namespace gives it a /tmp of its own (the tmpfs here is mounted in the probe's namespace only).
    await run(
      'unshare',
      ['--net', '--mount', '--', 'sh', '-c', 'ip link set lo up && mount -t tmpfs meridian-probe /tmp'],
      { timeout: 5_000 },
    );
  } catch (error) {
    return {
      ok: false,
      reason: `cannot create a network and mount namespace: ${error instanceof Error ? error.message : error}`,
    };
  }
  return { ok: true };
}

async function onPath(tool: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}
