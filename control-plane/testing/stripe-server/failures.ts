import { lockTimeout, rateLimited, type StripeReply, stripeError } from './errors.js';

export type FailureKind =
  /** 429 `rate_limit` (account-wide limit). */
  | 'rate_limit'
  /** 429 `lock_timeout` (another request holds the object). */
  | 'lock_timeout'
  /** 400 `invalid_request_error` that no retry fixes (not a duplicate identifier). */
  | 'invalid_request'
  /** 500 `api_error`; saved under the Idempotency-Key like Stripe does, so a replay of the key answers 500 again. */
  | 'server_error'
  /** Never answers and never processes; the connection stays open until the client gives up. */
  | 'hang'
  /** Closes the connection without processing. */
  | 'drop'
  /** Processes the request (a meter event is counted), then closes the connection without answering. */
  | 'accept_then_drop'
  /** Processes the request, then never answers. */
  | 'accept_then_hang';

export interface FailureMatch {
  method?: string;
  /** Default: POST /v1/billing/meter_events. */
  path?: string | RegExp;
  /** Sent as `Retry-After` with 429s. */
  retryAfterSeconds?: number;
}

export interface FailureRule extends FailureMatch {
  kind: FailureKind;
  remaining: number;
}

const DEFAULT_PATH = '/v1/billing/meter_events';

/** Whether a request is one a rule (or the latency setting) applies to. */
export function matches(rule: FailureMatch, method: string, path: string): boolean {
  const want = rule.path ?? DEFAULT_PATH;
  const wantMethod = rule.method ?? (rule.path ? method : 'POST');
  return wantMethod === method && (typeof want === 'string' ? want === path : want.test(path));
}

/** Failures injected by tests, consumed in the order they were asked for. */
export class FailurePlan {
  private readonly rules: FailureRule[] = [];
  latency: { ms: number; match: FailureMatch } = { ms: 0, match: {} };

  add(n: number, kind: FailureKind, match: FailureMatch): void {
    this.rules.push({ ...match, kind, remaining: n });
  }

  /** The rule for this request, if any; it is used up by one. */
  take(method: string, path: string): FailureRule | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && matches(r, method, path));
    if (rule) rule.remaining -= 1;
    return rule;
  }
}

/** The answer a rule gives before the request reaches the endpoint, if it answers at all. */
export function earlyReply(rule: FailureRule | undefined): StripeReply | undefined {
  switch (rule?.kind) {
    case 'rate_limit':
      return rateLimited(rule.retryAfterSeconds);
    case 'lock_timeout':
      return lockTimeout(rule.retryAfterSeconds);
    case 'invalid_request':
      return stripeError(400, 'invalid_request_error', 'Invalid request (injected by the test).');
    default:
      return undefined;
  }
}
