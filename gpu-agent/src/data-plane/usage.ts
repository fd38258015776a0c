import { parseUsageHeaders } from '@meridian/protocol';
import type { CallRecorder } from '../agent/usage-journal.js';
import { ModelWorkerError } from '../onnx/errors.js';
import type { Answer } from './answers.js';

/** The call was served but could not be journaled: it must not be answered 200 (unbilled); retry elsewhere. */
export class UsageNotRecordedError extends ModelWorkerError {
  override name = 'UsageNotRecordedError';
}

/** The edge that sent the call hung up before its answer was ready: nothing is journaled or written. */
export class CallerGoneError extends ModelWorkerError {
  override name = 'CallerGoneError';
}

/**
 * Journals a 200 infer answer before it is written, under the signed usage identity; any other answer, or a
 * data plane without a journal (tests), passes through. Throws UsageNotRecordedError (503) when the journal
 * write fails, so no 200 leaves that is not recorded, and CallerGoneError when the connection it came on has
 * closed (an edge that died while the model ran): such a call reaches no client, so it is not billed.
 */
export async function journalServed(
  journal: CallRecorder | undefined,
  header: (name: string) => string | undefined,
  served: { deploymentId: string; bytesIn: number },
  answer: Answer,
  callerGone: () => boolean = () => false,
): Promise<Answer> {
  if (!journal || answer.status !== 200) return answer;
  const usage = parseUsageHeaders(header);
  if (!usage) return answer;
  if (callerGone()) throw new CallerGoneError('the caller hung up before the answer was ready');
  try {
    await journal.record({ ...usage, ...served, bytesOut: answer.body.byteLength });
  } catch {
    throw new UsageNotRecordedError('the call could not be recorded for billing; retry');
  }
  return answer;
}
