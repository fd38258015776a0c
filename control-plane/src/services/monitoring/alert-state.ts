import type { AlertState } from '../../db/schema.js';

export interface RuleState {
  state: AlertState;
  /** When the condition began to hold (pending, firing); null when ok. */
  activeSince: number | null;
}

export interface Transition extends RuleState {
  /** What to notify: a rule begins firing, or a firing rule resolves. Pending and back says nothing. */
  event?: 'firing' | 'resolved';
}

/**
 * The next state of a rule given whether its condition holds now: ok → pending when it starts to hold,
 * pending → firing once it has held `forSeconds`, pending → ok without a word if it stops first, firing →
 * resolved (ok) once it stops. A firing rule whose condition still holds stays firing with no new event:
 * each episode notifies once when it fires and once when it resolves.
 */
export function nextRuleState(
  current: RuleState,
  breached: boolean,
  forSeconds: number,
  nowMs: number,
): Transition {
  if (!breached) {
    if (current.state === 'firing') return { state: 'ok', activeSince: null, event: 'resolved' };
    return { state: 'ok', activeSince: null };
  }
  const since = current.state === 'ok' ? nowMs : (current.activeSince ?? nowMs);
  if (current.state === 'firing') return { state: 'firing', activeSince: since };
  if (nowMs - since >= forSeconds * 1000) return { state: 'firing', activeSince: since, event: 'firing' };
  return { state: 'pending', activeSince: since };
}

/** Whether a value breaches the rule: above the threshold, or below it for `ready_replicas`. */
export function breaches(metric: string, value: number | null, threshold: number): boolean {
  if (value === null) return false;
  return metric === 'ready_replicas' ? value < threshold : value > threshold;
}
