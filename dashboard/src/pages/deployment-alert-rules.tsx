import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { EmptyState } from '../components/empty-state';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { TableWrap } from '../components/table-wrap';
import { useLoad } from '../hooks/use-load';
import { AlertRuleRow } from './alert-rule-row';

type Rule = Schema<'AlertRule'>;

// Spend and quota are the org's figures: a rule on them without a deployment is about billing, not this one.
const ORG_ONLY: readonly Rule['metric'][] = ['spend_usd', 'quota_used'];

/** A rule applies here when it names this deployment, or names none and watches a deployment's figure. */
const appliesTo = (id: string) => (r: Rule) =>
  r.deploymentId === id || (r.deploymentId === null && !ORG_ONLY.includes(r.metric));

/** The alert rules that watch this deployment, with their state; the API lists the org's rules unpaginated. */
export function DeploymentAlertRules({ id }: { id: string }) {
  const { client, role } = useApp();
  const rules = useLoad(() => client.request('get', '/v1/alert-rules'), []);
  const items = rules.data?.items.filter(appliesTo(id)) ?? [];
  return (
    <>
      <h3>Alert rules</h3>
      <ErrorMessage error={rules.error} />
      {!rules.data && !rules.error ? <Loading what="Loading alert rules" /> : null}
      {rules.data && items.length === 0 ? (
        <EmptyState title="No alert rules watch this deployment">
          <p>Create one with the API or the CLI (POST /v1/alert-rules) to be told when it misbehaves.</p>
        </EmptyState>
      ) : null}
      {items.length > 0 ? (
        <TableWrap label="Alert rules table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Metric</th>
              <th scope="col">Threshold</th>
              <th scope="col">State</th>
              {can.write(role) ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <AlertRuleRow key={r.id} rule={r} onChange={rules.reload} />
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </>
  );
}
