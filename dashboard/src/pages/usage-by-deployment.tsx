import { usageLineSubject } from '@meridian/sdk';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { TableWrap } from '../components/table-wrap';
import { useLoad } from '../hooks/use-load';
import { formatQuantity } from '../lib/format';

/** This billing period's usage per deployment and meter, with amounts. */
export function UsageByDeployment() {
  const { client } = useApp();
  const usage = useLoad(
    () => client.request('get', '/v1/billing/usage', { query: { groupBy: 'deployment' } }),
    [],
  );
  if (!usage.data) return usage.error ? <ErrorMessage error={usage.error} /> : <Loading />;
  return (
    <section aria-label="Usage per deployment">
      <h2>Per deployment, this period</h2>
      {usage.data.lines.length === 0 ? <p className="muted">No usage yet this period.</p> : null}
      {usage.data.lines.length > 0 ? (
        <TableWrap label="Usage per deployment table">
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Meter</th>
              <th scope="col">Quantity</th>
              <th scope="col">Amount</th>
            </tr>
          </thead>
          <tbody>
            {usage.data.lines.map((l) => (
              <tr key={`${l.key}:${l.meter}`}>
                <td>{usageLineSubject('deployment', l)}</td>
                <td>{l.meter}</td>
                <td>{formatQuantity(l.billableQuantity, l.unit)}</td>
                <td>${l.amountUsd}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </section>
  );
}
