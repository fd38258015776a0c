import type { Schema } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { can, useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

/** Min and max replicas; the API says what it refuses (e.g. min above max). */
export function ScaleForm({ deployment, onSaved }: { deployment: Schema<'Deployment'>; onSaved(): void }) {
  const { client, role } = useApp();
  const [scale, setScale] = useState({
    minReplicas: deployment.minReplicas,
    maxReplicas: deployment.maxReplicas,
  });
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await client.request('patch', '/v1/deployments/{id}', { path: { id: deployment.id }, body: scale });
    setSaved(true);
    onSaved();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save.run();
  };
  const editable = can.write(role);
  return (
    <section aria-label="Scale settings">
      <h2>Scale</h2>
      <form onSubmit={submit} className="inline-form">
        <Field label="Minimum replicas">
          <input
            type="number"
            min={0}
            disabled={!editable}
            value={scale.minReplicas}
            onChange={(e) => setScale({ ...scale, minReplicas: Number(e.target.value) })}
          />
        </Field>
        <Field label="Maximum replicas">
          <input
            type="number"
            min={1}
            disabled={!editable}
            value={scale.maxReplicas}
            onChange={(e) => setScale({ ...scale, maxReplicas: Number(e.target.value) })}
          />
        </Field>
        {editable ? (
          <button type="submit" disabled={save.busy}>
            Save scale
          </button>
        ) : null}
        {saved ? <span role="status">Saved</span> : null}
      </form>
      <ErrorMessage error={save.error} />
    </section>
  );
}
