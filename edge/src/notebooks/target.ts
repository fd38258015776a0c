import type { NotebookTarget } from '@meridian/protocol';
import { ControlPlaneClient } from '../control-plane.js';
import type { Env } from '../env.js';

/** Where each notebook runs, per isolate for a few seconds: a page load makes dozens of requests. */
const TARGET_CACHE_MS = 5_000;
const MAX_ENTRIES = 10_000;
const targets = new Map<string, { target: NotebookTarget | undefined; at: number }>();

/**
 * The notebook's owner, status and server, or undefined when no notebook has this id. `fresh` skips the cache:
 * a notebook stopped and started again within its life answers elsewhere, and a refusal or a failed forward
 * must not rest on what the isolate saw seconds ago.
 */
export async function notebookTarget(
  env: Env,
  notebookId: string,
  options: { fresh?: boolean } = {},
): Promise<NotebookTarget | undefined> {
  const cached = options.fresh ? undefined : targets.get(notebookId);
  if (cached && Date.now() - cached.at < TARGET_CACHE_MS) return cached.target;
  const target = await new ControlPlaneClient(env).notebook(notebookId);
  targets.set(notebookId, { target, at: Date.now() });
  if (targets.size > MAX_ENTRIES) targets.delete(targets.keys().next().value as string);
  return target;
}
