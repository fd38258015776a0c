import type { NotebookTarget } from '@meridian/protocol';
import { ControlPlaneClient, ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';

/** Where each notebook runs, per isolate for a few seconds: a page load makes dozens of requests. */
const TARGET_CACHE_MS = 5_000;
/**
 * How long a lookup may stand in for the control plane while it cannot answer. Owner and org never change;
 * a stale server address only costs a failed forward, which is refused 503 like the outage itself.
 */
const STALE_IF_UNAVAILABLE_MS = 10 * 60_000;
const MAX_ENTRIES = 10_000;
const targets = new Map<string, { target: NotebookTarget | undefined; at: number }>();

/**
 * The notebook's owner, status and server, or undefined when no notebook has this id. `fresh` skips the cache:
 * a notebook stopped and started again within its life answers elsewhere, and a refusal or a failed forward
 * must not rest on what the isolate saw seconds ago. A control plane that cannot answer is a 503 with
 * Retry-After (never a 500): a page load the browser retries, not a broken page.
 */
export async function notebookTarget(
  env: Env,
  notebookId: string,
  options: { fresh?: boolean } = {},
): Promise<NotebookTarget | undefined> {
  const cached = targets.get(notebookId);
  if (!options.fresh && cached && Date.now() - cached.at < TARGET_CACHE_MS) return cached.target;
  let target: NotebookTarget | undefined;
  try {
    target = await new ControlPlaneClient(env).notebook(notebookId);
  } catch (err) {
    if (!(err instanceof ControlPlaneUnavailable)) throw err;
    if (!options.fresh && cached && Date.now() - cached.at < STALE_IF_UNAVAILABLE_MS) return cached.target;
    throw new EdgeError('unavailable', `Cannot look up notebook '${notebookId}' right now; retry shortly`, {
      'Retry-After': '5',
    });
  }
  targets.set(notebookId, { target, at: Date.now() });
  if (targets.size > MAX_ENTRIES) targets.delete(targets.keys().next().value as string);
  return target;
}
