import { type Schema, waitForDeployment } from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ErrorMessage } from '../components/error-message';
import { StatusBadge } from '../components/status-badge';
import { useAction } from '../hooks/use-action';
import { startProblem } from './start-problem';

type Deployment = Schema<'Deployment'>;

/**
 * Rolls an existing deployment to another version of its model in place, through the API route
 * `meridian deploy` updates one with (PATCH /v1/deployments/{id} with the version), and follows it until it
 * serves (ready, or idle at zero) or cannot start.
 */
export function useRollForward(events: { onStart(): void; onServing(d: Deployment): void }) {
  const { client } = useApp();
  const [rolled, setRolled] = useState<Deployment>();
  const [target, setTarget] = useState<{ name: string; version: number }>();
  const action = useAction(async (deployment: Deployment, version: number) => {
    setTarget({ name: deployment.name, version });
    setRolled(undefined);
    events.onStart();
    const updated = await client.request('patch', '/v1/deployments/{id}', {
      path: { id: deployment.id },
      body: { version },
    });
    setRolled(updated);
    // As the deploy step's own wait: one that cannot start stops it at once, and says why.
    const stop = new AbortController();
    try {
      const serving = await waitForDeployment(client, updated.id, {
        onChange: (d) => {
          setRolled(d);
          if (startProblem(d)) stop.abort();
        },
        signal: stop.signal,
        timeoutMs: 300_000,
      });
      setRolled(serving);
      events.onServing(serving);
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  });
  const done = rolled !== undefined && (rolled.status === 'ready' || rolled.status === 'idle');
  return { ...action, rolled, target, done };
}

export type RollForward = ReturnType<typeof useRollForward>;

/** The offer to roll `deployment` to `version`, then its progress and outcome, by name and version number. */
export function RollForwardOffer(props: { deployment: Deployment; version: number; roll: RollForward }) {
  const { deployment: d, version, roll } = props;
  const started = roll.target?.name === d.name && roll.target.version === version;
  const rolled = started ? roll.rolled : undefined;
  const problem = rolled && !roll.busy ? startProblem(rolled) : undefined;
  const link = <AppLink to={`/deployments/${d.id}`}>Open {d.name}</AppLink>;
  // Offered until pressed, and again after a refusal (a role changed back, say): nothing was rolled then.
  const offer = !started || (!roll.busy && roll.error !== undefined && rolled === undefined);
  return (
    <div className="stack">
      {offer ? (
        <p>
          {d.name} serves v{d.version.version} of {d.modelName}.{' '}
          <button type="button" className="primary" onClick={() => void roll.run(d, version)}>
            Deploy v{version} to {d.name}
          </button>{' '}
          rolls it to the version you uploaded, in place: v{d.version.version} serves until v{version} is
          ready.
        </p>
      ) : null}
      {rolled ? (
        <div role="status" aria-live="polite">
          <p>
            {roll.done
              ? `${d.name} serves v${rolled.version.version} now: `
              : `Deploying v${version} to ${d.name}: `}
            <StatusBadge status={rolled.status} />
            {rolled.statusReason ? <span className="muted"> {rolled.statusReason}</span> : null}
          </p>
        </div>
      ) : started && roll.busy ? (
        <p role="status">
          Deploying v{version} to {d.name}…
        </p>
      ) : null}
      {rolled ? <p>{link}: its replicas, events and logs.</p> : null}
      {problem ? (
        <div className="error" role="alert">
          <strong>{problem}</strong>
        </div>
      ) : null}
      {started ? (
        <ErrorMessage error={roll.error} lead={`v${version} was not deployed to ${d.name}:`} />
      ) : null}
    </div>
  );
}
