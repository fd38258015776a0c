import type { Schema } from '@meridian/sdk';
import { hardwareText } from '../lib/gpus';

type Deployment = Pick<Schema<'Deployment'>, 'name' | 'status' | 'statusReason' | 'gpuType' | 'gpuCount'>;

/**
 * A pending deployment's reason when placement refused it (control-plane/src/services/scheduler/placement.ts:
 * `no online host …`, `no online hosts`, `the workload …`), after the retry note the scheduler may put first.
 * Any other pending reason (`waiting to be placed`, `rolling out version 2`) is a start on its way.
 */
const NO_HOST = /(?:^|: )(?:no online host|the workload )/;

/** Why `d` cannot start as it is, in a sentence for its owner; undefined while it is on its way or serving. */
export function startProblem(d: Deployment): string | undefined {
  const reason = d.statusReason?.trim();
  if (d.status === 'failed') return `${d.name} failed to start: ${reason || 'no reason was given'}.`;
  if (d.status === 'pending' && reason && NO_HOST.test(reason))
    return `No host can run ${d.name} on ${hardwareText(d)} now: ${reason}.`;
  return undefined;
}
