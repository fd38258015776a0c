import type { DesiredState } from '@meridian/protocol';
import { type ApiClient, describeApiError } from './api-client.js';
import { backoffMs, sleep } from './backoff.js';
import type { Logger } from './logger.js';

export interface DesiredStateLoopOptions {
  api: ApiClient;
  /** Seconds the control plane may hold each poll (it caps this at 30). */
  waitSeconds?: number;
  /** Receives each new desired state, in order; the next poll waits for it. */
  apply: (state: DesiredState) => Promise<void>;
  log: Logger;
}

/**
 * Long-polls the desired state with the version it holds (`since`), so an answer comes as soon as anything
 * changes; backs off with jitter while polls fail. The first poll has no `since` and answers at once.
 */
export async function runDesiredStateLoop(options: DesiredStateLoopOptions, signal: AbortSignal) {
  let since: number | undefined;
  let failures = 0;
  while (!signal.aborted) {
    const query = { waitSeconds: options.waitSeconds ?? 30, ...(since === undefined ? {} : { since }) };
    const result = await options.api.pollDesiredState(query, signal);
    if (signal.aborted) return;
    if (!result.ok) {
      failures += 1;
      options.log.warn('desired-state poll failed', { error: describeApiError(result.error), failures });
      await sleep(backoffMs(failures), signal);
      continue;
    }
    failures = 0;
    const answer = result.value;
    if ('unchanged' in answer) continue;
    try {
      await options.apply(answer);
      since = answer.version;
      options.log.info('desired state applied', {
        version: answer.version,
        workloads: answer.workloads.length,
      });
    } catch (err) {
      // Poll again without `since`: the same state comes back at once and is applied again.
      failures += 1;
      options.log.error('desired state could not be applied', {
        error: String(err),
        version: answer.version,
      });
      await sleep(backoffMs(failures), signal);
    }
  }
}
