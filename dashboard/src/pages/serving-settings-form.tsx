import type { Schema } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { can, useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { draftOf, type SettingsDraft, settingsPatch } from './serving-settings';

type NumberField = Exclude<keyof SettingsDraft, 'ownBatching' | 'deterministic'>;

/**
 * How the deployment scales and serves: replica bounds, the autoscaler's target and delays, scale to zero,
 * how long the edge holds a call, dynamic batching and the edge's response cache. Saving sends only what
 * changed; the API says what it refuses, naming the field.
 */
export function ServingSettingsForm({
  deployment,
  onSaved,
}: {
  deployment: Schema<'Deployment'>;
  onSaved(): void;
}) {
  const { client, role } = useApp();
  const [draft, setDraft] = useState(() => draftOf(deployment));
  const [saved, setSaved] = useState<string>();
  const save = useAction(async () => {
    setSaved(undefined);
    const body = settingsPatch(deployment, draft);
    if (Object.keys(body).length === 0) {
      setSaved('Nothing changed');
      return;
    }
    await client.request('patch', '/v1/deployments/{id}', { path: { id: deployment.id }, body });
    setSaved('Saved');
    onSaved();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save.run();
  };
  const editable = can.write(role);
  const set = (field: NumberField) => (value: string) => {
    const next = { ...draft, [field]: value };
    // Going down to a minimum of 0 is asking to scale to zero: the API's default idle time, unless one is set.
    if (field === 'minReplicas' && value === '0' && draft.scaleToZeroAfterSeconds === '')
      next.scaleToZeroAfterSeconds = '300';
    setDraft(next);
  };
  const number = (field: NumberField, label: string, hint?: string, disabled = false) => (
    <Field label={label} {...(hint ? { hint } : {})}>
      <input
        type="number"
        inputMode="numeric"
        min={0}
        disabled={!editable || disabled}
        value={draft[field]}
        onChange={(e) => set(field)(e.target.value)}
      />
    </Field>
  );
  const check = (field: 'ownBatching' | 'deterministic', label: string) => (
    <label className="check">
      <input
        type="checkbox"
        disabled={!editable}
        checked={draft[field]}
        onChange={(e) => setDraft({ ...draft, [field]: e.target.checked })}
      />{' '}
      {label}
    </label>
  );
  const toZero = draft.minReplicas.trim() === '0';
  return (
    <section aria-label="Scaling and serving">
      <h2>Scaling and serving</h2>
      <form onSubmit={submit} className="stack">
        <div className="inline-form">
          {number('minReplicas', 'Minimum replicas', '0 scales to zero when idle')}
          {number('maxReplicas', 'Maximum replicas')}
          {number('targetConcurrency', 'Calls in flight per replica', 'what the autoscaler aims for')}
          {number(
            'scaleToZeroAfterSeconds',
            'Scale to zero after (s)',
            toZero ? 'without calls; empty: never' : 'only with a minimum of 0',
            !toZero,
          )}
          {number('scaleUpDelaySeconds', 'Scale-up delay (s)')}
          {number('scaleDownDelaySeconds', 'Scale-down delay (s)')}
          {number('holdTimeoutSeconds', 'Hold calls for (s)', 'while no replica is ready, then 503')}
        </div>
        <fieldset>
          <legend>Dynamic batching</legend>
          {check('ownBatching', 'Own batch settings (otherwise the agent’s: up to 32 calls, no added wait)')}
          {draft.ownBatching ? (
            <div className="inline-form">
              {number('maxBatchSize', 'Largest batch (calls)')}
              {number('maxQueueDelayMs', 'Batch wait (ms)', 'how long a call waits for others')}
            </div>
          ) : null}
        </fieldset>
        {check('deterministic', 'Same input, same output: the edge answers repeats from its cache')}
        <div className="actions">
          {editable ? (
            <button type="submit" disabled={save.busy}>
              Save settings
            </button>
          ) : null}
          {saved ? <span role="status">{saved}</span> : null}
        </div>
      </form>
      <ErrorMessage error={save.error} />
    </section>
  );
}
