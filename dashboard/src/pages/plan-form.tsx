import type { Operation, Success } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

type Plan = 'free' | 'pro' | 'enterprise';
export type PlanChange = Success<Operation<'/v1/billing/plan', 'put'>>;

/**
 * What the owner reads once the plan is chosen; choosing the plan the organisation is on again, after Stripe
 * refused its subscription or the invoice items of usage from before it, asks billing to try again.
 */
export function planChangeDone(answer: PlanChange): string {
  const now = `Now on ${answer.plan} (${answer.monthlyFeeUsd} USD a month).`;
  const retried = [
    answer.subscriptionRetried ? 'to start the subscription Stripe refused' : undefined,
    answer.usageBackfillRetried
      ? 'to bill the usage from before the subscription that Stripe refused'
      : undefined,
  ].filter(Boolean);
  return retried.length > 0
    ? `${now} Billing tries again ${retried.join(' and ')}; the invoice above says whether it did.`
    : now;
}

/**
 * The owner's plan change, starting at the plan the organisation is on; the API answers why one is refused
 * (e.g. more models than the plan allows). Enterprise is a contract an operator sets (the API refuses it
 * here, both ways), so it is shown but cannot be chosen.
 */
export function PlanForm({ current, onChanged }: { current: string; onChanged(): void }) {
  const { client } = useApp();
  const [plan, setPlan] = useState<Plan>(current as Plan);
  const [done, setDone] = useState<string>();
  const change = useAction(async () => {
    const answer = await client.request('put', '/v1/billing/plan', { body: { plan } });
    setDone(planChangeDone(answer));
    onChanged();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void change.run();
  };
  if (current === 'enterprise')
    return (
      <p className="card">
        This organisation is on a contracted Enterprise plan: ask your account manager to change it.
      </p>
    );
  return (
    <form onSubmit={submit} className="inline-form card" aria-label="Change plan">
      <Field label="Plan">
        <select value={plan} onChange={(e) => setPlan(e.target.value as Plan)}>
          <option value="free">Free</option>
          <option value="pro">Pro</option>
          <option value="enterprise" disabled>
            Enterprise (a contract: ask your account manager)
          </option>
        </select>
      </Field>
      <button type="submit" disabled={change.busy}>
        Change plan
      </button>
      {done ? <span role="status">{done}</span> : null}
      <ErrorMessage error={change.error} />
    </form>
  );
}
