import { collect, type Schema } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { canarySteps } from './serving-settings';

type Deployment = Schema<'Deployment'>;

/**
 * Serves another version of the model: at once (replica by replica), or as a canary that takes a share of the
 * calls step by step and is rolled back by itself when it does worse. While a canary runs, it can be promoted
 * or rolled back by hand.
 */
export function RolloutForm({ deployment, onDone }: { deployment: Deployment; onDone(): void }) {
  const { client, role } = useApp();
  const versions = useLoad(
    () => collect(client.list('/v1/models/{id}/versions', { path: { id: deployment.modelId } })),
    [deployment.modelId],
  );
  const [version, setVersion] = useState('');
  const [asCanary, setAsCanary] = useState(true);
  const [steps, setSteps] = useState('10, 50');
  const [windowSeconds, setWindowSeconds] = useState('60');
  const patch = (body: { version: number; canary?: Schema<'CanaryPolicy'> }) =>
    client.request('patch', '/v1/deployments/{id}', { path: { id: deployment.id }, body });
  const rollOut = useAction(async () => {
    const chosen = Number(version);
    if (!Number.isInteger(chosen) || chosen < 1) throw new Error('Version: choose the version to serve');
    const window = Number(windowSeconds);
    if (asCanary && !(Number.isInteger(window) && window >= 1))
      throw new Error('Each step lasts: whole seconds, at least 1');
    await patch({
      version: chosen,
      ...(asCanary ? { canary: { steps: canarySteps(steps), windowSeconds: window } } : {}),
    });
    onDone();
  });
  const decide = useAction(async (chosen: number) => {
    await patch({ version: chosen });
    onDone();
  });
  if (!can.write(role)) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void rollOut.run();
  };
  const rollout = deployment.rollout;
  const running = rollout?.state === 'canary' ? rollout : undefined;
  const choices = (versions.data ?? []).filter(
    (v) => v.status === 'ready' && v.version !== deployment.version.version && v.version !== running?.version,
  );
  return (
    <section aria-label="Roll out a version">
      <h2>Roll out a version</h2>
      {running && running.version !== null && running.baseVersion !== null ? (
        <div className="actions">
          <button
            type="button"
            disabled={decide.busy}
            onClick={() => void decide.run(running.version as number)}
          >
            Promote v{running.version} now
          </button>
          <ConfirmButton
            label={`Roll back to v${running.baseVersion}`}
            confirm={`Yes, serve v${running.baseVersion} only`}
            disabled={decide.busy}
            onConfirm={() => void decide.run(running.baseVersion as number)}
          />
        </div>
      ) : null}
      <ErrorMessage error={decide.error} />
      {choices.length === 0 ? (
        <p className="muted">
          {versions.data ? 'No other ready version of this model: upload one first.' : 'Loading versions…'}
        </p>
      ) : (
        <form onSubmit={submit} className="stack">
          <div className="inline-form">
            <Field label="Version">
              <select value={version} onChange={(e) => setVersion(e.target.value)}>
                <option value="">Choose…</option>
                {choices.map((v) => (
                  <option key={v.id} value={String(v.version)}>
                    v{v.version}
                    {v.aliases.length > 0 ? ` (${v.aliases.join(', ')})` : ''}
                  </option>
                ))}
              </select>
            </Field>
            <label className="check">
              <input type="checkbox" checked={asCanary} onChange={(e) => setAsCanary(e.target.checked)} /> As
              a canary
            </label>
            {asCanary ? (
              <>
                <Field label="Steps (% of calls)" hint="rising; after the last it takes every call">
                  <input value={steps} onChange={(e) => setSteps(e.target.value)} />
                </Field>
                <Field label="Each step lasts (s)">
                  <input
                    type="number"
                    inputMode="numeric"
                    min={1}
                    value={windowSeconds}
                    onChange={(e) => setWindowSeconds(e.target.value)}
                  />
                </Field>
              </>
            ) : null}
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={rollOut.busy}>
              Roll out
            </button>
          </div>
        </form>
      )}
      <ErrorMessage error={rollOut.error ?? versions.error} />
    </section>
  );
}
