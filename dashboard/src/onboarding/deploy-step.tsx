import { ConflictError, type Schema, waitForDeployment } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { GpuCountField } from '../components/gpu-count-field';
import { StatusBadge } from '../components/status-badge';
import { useAction } from '../hooks/use-action';
import { type GpuType, gpuFields } from '../lib/gpus';
import { RollForwardOffer, useRollForward } from './roll-forward';
import { startProblem } from './start-problem';
import { type TakenOffer, takenOffer } from './taken-deployment';

type Deployment = Schema<'Deployment'>;

const PHASES = ['pending', 'scheduled', 'pulling', 'loading', 'ready'] as const;

/** The deploy form's request: one replica, and a GPU count only for a GPU type (cpu takes none). */
export function deployRequestBody(form: {
  name: string;
  model: string;
  version: number;
  gpuType: GpuType;
  gpuCount: number;
}) {
  return {
    name: form.name,
    model: form.model,
    version: form.version,
    ...gpuFields(form.gpuType, form.gpuCount),
    minReplicas: 1,
    maxReplicas: 1,
  };
}

/** A name to offer in place of a taken one: `fraud-api` → `fraud-api-2`, `fraud-api-2` → `fraud-api-3`. */
export function nextName(name: string): string {
  const numbered = /^(.*)-(\d+)$/.exec(name);
  return numbered ? `${numbered[1]}-${Number(numbered[2]) + 1}` : `${name}-2`;
}

/**
 * Deploys the uploaded version on the chosen hardware and follows its phases until it is ready; one that cannot
 * start (no host has the hardware, or it failed) stops the wait at once, says why, and can be deployed again.
 */
export function DeployStep(props: {
  model: Schema<'Model'>;
  version: Schema<'ModelVersion'>;
  onDeployment(d: Deployment): void;
}) {
  const { client } = useApp();
  const [name, setName] = useState(props.model.name);
  const [gpuType, setGpuType] = useState<GpuType>('cpu');
  const [gpuCount, setGpuCount] = useState(1);
  const [current, setCurrent] = useState<Deployment>();
  // The name the API answered 409 for: the step offers another, or what the deployment that has it can do.
  const [taken, setTaken] = useState<{ name: string; offer: TakenOffer }>();
  const follow = (d: Deployment) => {
    setCurrent(d);
    props.onDeployment(d);
  };
  /** The organisation's deployment named `taken`; undefined when it cannot be read. */
  const deploymentNamed = async (taken: string) => {
    const { items } = await client.request('get', '/v1/deployments', { query: { name: taken } });
    return items.find((d) => d.name === taken);
  };
  const deploy = useAction(async () => {
    setTaken(undefined);
    // Deploying again replaces the one that did not start: the new one takes its name.
    if (current) {
      await client.request('delete', '/v1/deployments/{id}', { path: { id: current.id } });
      setCurrent(undefined);
    }
    const created = await client
      .request('post', '/v1/deployments', {
        body: deployRequestBody({
          name,
          model: props.model.id,
          version: props.version.version,
          gpuType,
          gpuCount,
        }),
      })
      .catch(async (error: unknown) => {
        if (error instanceof ConflictError) {
          const existing = await deploymentNamed(name).catch(() => undefined);
          setTaken({ name, offer: takenOffer(existing, props.model, props.version) });
        }
        throw error;
      });
    follow(created);
    // Waiting longer would not help one that cannot start: the step says why and what to do instead.
    const stop = new AbortController();
    try {
      const ready = await waitForDeployment(client, created.id, {
        onChange: (d) => {
          follow(d);
          if (startProblem(d)) stop.abort();
        },
        signal: stop.signal,
        timeoutMs: 300_000,
      });
      follow(ready);
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
  });
  // Rolling the deployment of a taken name forward is kept apart from `current`: deploying again deletes that
  // one, and a deployment the user had before this step must never be. Once it rolls, the 409 is answered.
  const roll = useRollForward({ onStart: deploy.clearError, onServing: props.onDeployment });
  // A deploy under way, or done, fixes the form; one that cannot start leaves it open for other choices.
  const locked = deploy.busy || current?.status === 'ready' || roll.busy || roll.done;
  const problem = current && !deploy.busy ? startProblem(current) : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void deploy.run();
  };
  return (
    <div className="stack">
      <form onSubmit={submit} className="inline-form" aria-label="Deploy">
        <Field label="Deployment name">
          <input value={name} onChange={(e) => setName(e.target.value)} required disabled={locked} />
        </Field>
        <Field label="Hardware">
          <select value={gpuType} onChange={(e) => setGpuType(e.target.value as GpuType)} disabled={locked}>
            <option value="cpu">CPU</option>
            <option value="t4">NVIDIA T4</option>
            <option value="rtx4090">RTX 4090</option>
            <option value="v100">V100</option>
          </select>
        </Field>
        <GpuCountField gpuType={gpuType} value={gpuCount} onChange={setGpuCount} disabled={locked} />
        <button type="submit" className="primary" disabled={locked}>
          {problem ? 'Deploy again' : 'Deploy'}
        </button>
      </form>
      {current ? (
        <div role="status" aria-live="polite">
          <p>
            {current.name}: <StatusBadge status={current.status} />
            {current.statusReason ? <span className="muted"> {current.statusReason}</span> : null}
          </p>
          <ol className="phases" aria-label="Phases">
            {PHASES.map((phase) => (
              <li
                key={phase}
                className={PHASES.indexOf(phase) <= PHASES.indexOf(current.status as never) ? 'reached' : ''}
              >
                {phase}
              </li>
            ))}
          </ol>
        </div>
      ) : null}
      {problem ? (
        <div className="error" role="alert">
          <p>
            <strong>{problem}</strong>
          </p>
          <p>Pick other hardware above and deploy again: the new deployment replaces {current?.name}.</p>
        </div>
      ) : null}
      <ErrorMessage error={deploy.error} />
      {taken !== undefined && taken.name === name ? (
        <TakenName taken={taken} version={props.version.version} roll={roll} onRename={setName} />
      ) : null}
    </div>
  );
}

/** What to do about a taken deployment name: another name, or the deployment that has it. */
function TakenName(props: {
  taken: { name: string; offer: TakenOffer };
  version: number;
  roll: ReturnType<typeof useRollForward>;
  onRename(name: string): void;
}) {
  const { name, offer } = props.taken;
  // Once the deployment of that name rolls forward (not when the API refused it), the name is what the user chose.
  const rolling = props.roll.target?.name === name && (props.roll.busy || props.roll.rolled !== undefined);
  return (
    <>
      {rolling ? null : (
        <p>
          Pick another name above, or{' '}
          <button type="button" onClick={() => props.onRename(nextName(name))}>
            Name it {nextName(name)}
          </button>{' '}
          and deploy.
          {offer.kind === 'other' ? (
            <>
              {' '}
              To serve this version from {name} instead, roll it out from its page in{' '}
              <AppLink to="/deployments">Deployments</AppLink>.
            </>
          ) : null}
          {offer.kind === 'serves' ? (
            <>
              {' '}
              {name} serves v{props.version} already:{' '}
              <AppLink to={`/deployments/${offer.deployment.id}`}>open {name}</AppLink>.
            </>
          ) : null}
        </p>
      )}
      {offer.kind === 'roll' ? (
        <RollForwardOffer deployment={offer.deployment} version={props.version} roll={props.roll} />
      ) : null}
    </>
  );
}
