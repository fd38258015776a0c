import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

type Plan = 'free' | 'pro' | 'enterprise';

/** The owner's plan change; the API answers why one is refused (e.g. more models than the plan allows). */
export function PlanForm() {
  const { client } = useApp();
  const [plan, setPlan] = useState<Plan>('pro');
  const [done, setDone] = useState<string>();
  const change = useAction(async () => {
    const answer = await client.request('put', '/v1/billing/plan', { body: { plan } });
    setDone(`Now on ${answer.plan} (${answer.monthlyFeeUsd} USD a month).`);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void change.run();
  };
  return (
    <form onSubmit={submit} className="inline-form card" aria-label="Change plan">
      <Field label="Plan">
        <select value={plan} onChange={(e) => setPlan(e.target.value as Plan)}>
          <option value="free">Free</option>
          <option value="pro">Pro</option>
          <option value="enterprise">Enterprise</option>
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
