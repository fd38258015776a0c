import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { CopyButton } from '../components/copy-button';
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

/** A first rule for this deployment, as the CLI takes it: errors on more than 5% of calls over 5 minutes. */
const alertCommand = (name: string) =>
  `meridian alerts create ${name}-errors -d ${name} --metric error_rate --threshold 0.05 --window 5m --channel CHANNEL`;

/** The alert rules that watch this deployment, with their state; the API lists the org's rules unpaginated. */
export function DeploymentAlertRules({ id, name }: { id: string; name: string }) {
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
          <p>
            To be told when it misbehaves, create one from a terminal (after{' '}
            <code>meridian channels create</code>):
          </p>
          <p className="command">
            <code>{alertCommand(name)}</code> <CopyButton text={alertCommand(name)} label="Copy command" />
          </p>
          <p className="muted">or with the API: POST /v1/alert-rules.</p>
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
