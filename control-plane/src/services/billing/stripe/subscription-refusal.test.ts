import { describe, expect, it } from 'vitest';
import type { StripeFailure } from './gateway.js';
import { creationKeyAfter, isPermanentRefusal } from './subscription-refusal.js';

// Failures as classifyStripeError sorts Stripe's answers (docs.stripe.com/api/errors: its error types and
// status codes); no Stripe is reached.
const http = (status: number, type: string, extra: Partial<StripeFailure> = {}): StripeFailure => ({
  kind: 'failed',
  reason: status === 429 ? 'rate_limited' : 'http',
  status,
  type,
  message: 'Stripe said no',
  ...extra,
});

describe('isPermanentRefusal', () => {
  it.each([
    [
      'a deleted customer',
      http(404, 'invalid_request_error', { code: 'resource_missing', param: 'customer' }),
    ],
    ['an archived price', http(400, 'invalid_request_error', { param: 'items[0][price]' })],
    ['a declined card', http(402, 'card_error', { code: 'card_declined', declineCode: 'generic_decline' })],
  ])('holds %s refused for good', (_, failure) => {
    expect(isPermanentRefusal(failure)).toBe(true);
  });

  it.each([
    ['the rate limit', http(429, 'invalid_request_error', { code: 'rate_limit' })],
    ['a lock held by another request', http(429, 'invalid_request_error', { code: 'lock_timeout' })],
    ['a rate limit answered 400', http(400, 'invalid_request_error', { code: 'rate_limit' })],
    ['a key reused with other parameters', http(400, 'idempotency_error')],
    ['a key still in flight', http(409, 'idempotency_error')],
    ['a request conflicting with another', http(409, 'invalid_request_error')],
    ['Stripe’s own failure', http(500, 'api_error')],
    ['a failed external dependency', http(424, 'invalid_request_error')],
    ['the platform’s invalid key', http(401, 'invalid_request_error')],
    ['a key without the permission', http(403, 'invalid_request_error')],
    ['a refusal Stripe says to retry', http(400, 'invalid_request_error', { shouldRetry: true })],
    ['a 400 without Stripe’s error type (a proxy)', http(400, '', { type: undefined })],
    ['a network failure', { kind: 'failed', reason: 'network', message: 'ECONNRESET' } as StripeFailure],
    ['a timeout', { kind: 'failed', reason: 'timeout', message: 'timed out' } as StripeFailure],
  ])('waits out %s, as before', (_, failure) => {
    expect(isPermanentRefusal(failure)).toBe(false);
  });
});

describe('creationKeyAfter', () => {
  it('keeps the key until a refusal, then names a new one per refusal', () => {
    const refusal = (refusals: number) => ({
      key: 'k',
      at: 0,
      refusals,
      status: 404,
      type: 'invalid_request_error',
      message: 'No such customer',
    });
    expect(creationKeyAfter('subscription-org_1', undefined)).toBe('subscription-org_1');
    expect(creationKeyAfter('subscription-org_1', refusal(1))).toBe('subscription-org_1-after-refusal-1');
    expect(creationKeyAfter('subscription-org_1', refusal(2))).toBe('subscription-org_1-after-refusal-2');
  });
});
