import { useApp } from '../api/context';
import { PageHeader } from '../components/page-header';
import { InvoiceCard } from './invoice-card';
import { PlanForm } from './plan-form';
import { UsageByDay } from './usage-by-day';
import { UsageByDeployment } from './usage-by-deployment';

/** Usage as it accrues: calls and compute minutes per day, per deployment, the upcoming invoice, the plan. */
export function UsagePage() {
  const { role } = useApp();
  return (
    <>
      <PageHeader title="Usage and billing" />
      <UsageByDay />
      <UsageByDeployment />
      <InvoiceCard />
      {role === 'owner' ? <PlanForm /> : null}
    </>
  );
}
