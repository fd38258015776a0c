import type { Operation, Success } from '@meridian/sdk';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import type { Loaded } from '../hooks/use-load';
import { formatQuantity } from '../lib/format';

export type UpcomingInvoice = Success<Operation<'/v1/billing/invoices/upcoming', 'get'>>;

/**
 * The upcoming invoice: plan, period, and a line per fee and meter; and, while Stripe refuses to start the
 * organisation's subscription or to bill the usage of months before it, why.
 */
export function InvoiceCard({ invoice }: { invoice: Loaded<UpcomingInvoice> }) {
  if (!invoice.data) return invoice.error ? <ErrorMessage error={invoice.error} /> : <Loading />;
  const inv = invoice.data;
  return (
    <section aria-label="Upcoming invoice" className="card">
      <h2>Upcoming invoice: ${inv.subtotalUsd}</h2>
      <p>
        Plan <strong>{inv.plan}</strong>, period <TimeText iso={inv.periodStart} /> to{' '}
        <TimeText iso={inv.periodEnd} />
      </p>
      {inv.subscriptionRefused ? (
        <p role="alert">
          {inv.subscriptionRefused.summary} Refused <TimeText iso={inv.subscriptionRefused.at} />.
        </p>
      ) : null}
      {inv.usageBackfillRefused ? (
        <p role="alert">
          {inv.usageBackfillRefused.summary} Refused <TimeText iso={inv.usageBackfillRefused.at} />.
        </p>
      ) : null}
      <TableWrap label="Invoice lines">
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Quantity</th>
            <th scope="col">Unit price</th>
            <th scope="col">Amount</th>
          </tr>
        </thead>
        <tbody>
          {inv.lines.map((l) => (
            <tr key={l.description}>
              <td>{l.description}</td>
              <td>{formatQuantity(l.quantity, l.unit)}</td>
              <td>${l.unitPriceUsd}</td>
              <td>${l.amountUsd}</td>
            </tr>
          ))}
        </tbody>
      </TableWrap>
    </section>
  );
}
