import { collect } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { CopyButton } from '../components/copy-button';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { keyScopes } from './api-key-scopes';

// Every scope the API grants (control-plane/src/auth/permissions.ts, listed in the README), with what it is for.
const SCOPES: [string, string][] = [
  ['predict', 'calls to every deployment through the edge'],
  ['models:read', 'models, versions and experiments'],
  ['models:write', 'upload models, log runs (a training script)'],
  ['deployments:read', 'deployments, their events and logs'],
  ['deployments:write', 'deploy, scale, roll out'],
  ['billing:read', 'usage and invoices'],
  ['metrics', 'Prometheus scraping of /v1/metrics/prometheus'],
  ['admin', 'everything your role may do but notebooks (CI, automation)'],
];

/** A new key: scopes, an optional per-minute limit and expiry; its secret is shown once. */
export function ApiKeyForm({ onCreated }: { onCreated(): void }) {
  const { client } = useApp();
  const [form, setForm] = useState({ name: '', scopes: ['predict'], perMinute: '', expires: '' });
  // Deployment names a predict key may be limited to (`predict:<name>`); none chosen: every deployment.
  const [only, setOnly] = useState<string[]>([]);
  const deployments = useLoad(() => collect(client.list('/v1/deployments')), []);
  const [secret, setSecret] = useState<string>();
  const create = useAction(async () => {
    const key = await client.request('post', '/v1/api-keys', {
      body: {
        name: form.name,
        scopes: keyScopes(form.scopes, only),
        ...(form.perMinute
          ? { rateLimits: [{ name: 'per-minute', limit: Number(form.perMinute), periodSeconds: 60 }] }
          : {}),
        ...(form.expires ? { expiresAt: new Date(form.expires).toISOString() } : {}),
      },
    });
    setSecret(key.secret);
    // The name goes with the key made: pressing Create again (or Enter) must not make a second one of that name.
    setForm((f) => ({ ...f, name: '' }));
    onCreated();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  const toggle = (scope: string) =>
    setForm({
      ...form,
      scopes: form.scopes.includes(scope) ? form.scopes.filter((s) => s !== scope) : [...form.scopes, scope],
    });
  return (
    <form onSubmit={submit} className="stack card" aria-label="New API key">
      <h2>New API key</h2>
      <div className="inline-form">
        <Field label="Name">
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
        </Field>
        <Field label="Calls per minute (optional)">
          <input
            type="number"
            min={1}
            value={form.perMinute}
            onChange={(e) => setForm({ ...form, perMinute: e.target.value })}
          />
        </Field>
        <Field label="Expires (optional)">
          <input
            type="datetime-local"
            value={form.expires}
            onChange={(e) => setForm({ ...form, expires: e.target.value })}
          />
        </Field>
      </div>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map(([scope, hint]) => (
          <label key={scope} className="check">
            <input type="checkbox" checked={form.scopes.includes(scope)} onChange={() => toggle(scope)} />{' '}
            {scope} <small className="muted">({hint})</small>
          </label>
        ))}
        {form.scopes.includes('predict') && deployments.data?.length ? (
          <Field label="Predict on these deployments only (none chosen: every one)">
            <select
              multiple
              value={only}
              onChange={(e) => setOnly([...e.target.selectedOptions].map((o) => o.value))}
            >
              {deployments.data.map((d) => (
                <option key={d.id} value={d.name}>
                  {d.name}
                </option>
              ))}
            </select>
          </Field>
        ) : null}
      </fieldset>
      <button type="submit" className="primary" disabled={create.busy}>
        Create key
      </button>
      <ErrorMessage error={create.error} />
      {secret ? (
        <p role="status" className="secret">
          Shown this once: <code>{secret}</code> <CopyButton text={secret} label="Copy key" />
        </p>
      ) : null}
    </form>
  );
}
