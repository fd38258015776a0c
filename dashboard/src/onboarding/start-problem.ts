import type { Schema } from '@meridian/sdk';
import { hardwareText } from '../lib/gpus';

type Deployment = Pick<Schema<'Deployment'>, 'name' | 'startProblem' | 'gpuType' | 'gpuCount'>;

/**
 * Why `d` cannot start as it is, in a sentence for its owner, from the API's `startProblem` (no host fits it,
 * or its last start failed); undefined while it is on its way, serving or idle.
 */
export function startProblem(d: Deployment): string | undefined {
  const problem = d.startProblem;
  if (!problem) return undefined;
  const message = problem.message.trim().replace(/\.$/, '') || 'no reason was given';
  if (problem.kind === 'failed') return `${d.name} failed to start: ${message}.`;
  return `No host can run ${d.name} on ${hardwareText(d)} now: ${message}.`;
}
