import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { InvoiceCard, type UpcomingInvoice } from './invoice-card';

const invoice = (over: Partial<UpcomingInvoice> = {}): UpcomingInvoice => ({
  orgId: 'org_1',
  plan: 'pro',
  periodStart: '2026-12-01T00:00:00.000Z',
  periodEnd: '2027-01-01T00:00:00.000Z',
  currency: 'usd',
  lines: [],
  subtotalUsd: '199',
  totalCents: 19_900,
  subscriptionRefused: null,
  usageBackfillRefused: null,
  ...over,
});
const card = (inv: UpcomingInvoice) =>
  renderToStaticMarkup(
    <InvoiceCard
      invoice={{ data: inv, error: undefined, loading: false, reload: () => {}, refresh: async () => {} }}
    />,
  );

describe('the upcoming invoice card', () => {
  it('says why billing could not start the subscription while Stripe refuses it', () => {
    const summary =
      'Billing could not start your subscription: Stripe refused it (card_error, card_declined, generic_decline): Your card was declined. Once that is fixed, an owner can try again by choosing the Pro plan again: meridian plan set pro, or Change plan on the usage page of the dashboard.';
    const shown = card(
      invoice({
        subscriptionRefused: {
          at: '2026-12-07T10:00:00.000Z',
          summary,
          type: 'card_error',
          code: 'card_declined',
          declineCode: 'generic_decline',
          message: 'Your card was declined.',
        },
      }),
    );
    expect(shown).toContain(`<p role="alert">${summary} Refused <time dateTime="2026-12-07T10:00:00.000Z">`);
    expect(card(invoice())).not.toContain('role="alert"');
  });

  it('says which usage Stripe refused to bill, and how to try again', () => {
    const summary =
      'Billing could not add usage from before your subscription began to its Stripe invoice (Inference: $0.001 per call: 1,234 calls in November 2026, before the subscription began ($1.23)): Stripe refused it (invalid_request_error): Invalid request. Once that is fixed, an owner can try again by choosing the Pro plan again: meridian plan set pro, or Change plan on the usage page of the dashboard.';
    const shown = card(
      invoice({
        usageBackfillRefused: {
          at: '2026-12-07T11:00:00.000Z',
          summary,
          type: 'invalid_request_error',
          code: null,
          declineCode: null,
          message: 'Invalid request.',
          items: [
            {
              month: '2026-11',
              meter: 'inference_calls',
              description:
                'Inference: $0.001 per call: 1,234 calls in November 2026, before the subscription began',
              amountUsd: '1.23',
            },
          ],
        },
      }),
    );
    expect(shown).toContain(`<p role="alert">${summary} Refused <time dateTime="2026-12-07T11:00:00.000Z">`);
  });
});
