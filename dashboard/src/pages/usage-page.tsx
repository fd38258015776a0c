import { useApp } from '../api/context';
import { PageHeader } from '../components/page-header';
import { useLoad } from '../hooks/use-load';
import { InvoiceCard } from './invoice-card';
import { PlanForm } from './plan-form';
import { UsageByDay } from './usage-by-day';
import { UsageByDeployment } from './usage-by-deployment';

/** Usage as it accrues: calls and compute minutes per day, per deployment, the upcoming invoice, the plan. */
export function UsagePage() {
  const { client, role } = useApp();
  // One read of the upcoming invoice for the card and the plan form: a plan change shows on the card at once.
  const invoice = useLoad(() => client.request('get', '/v1/billing/invoices/upcoming'), []);
  return (
    <>
      <PageHeader title="Usage and billing" />
      <UsageByDay />
      <UsageByDeployment />
      <InvoiceCard invoice={invoice} />
      {role === 'owner' && invoice.data ? (
        <PlanForm current={invoice.data.plan} onChanged={invoice.reload} />
      ) : null}
    </>
  );
}
