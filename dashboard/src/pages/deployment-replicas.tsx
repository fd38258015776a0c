import type { Schema } from '@meridian/sdk';

const PHASES = ['pending', 'pulling', 'loading', 'ready', 'failed', 'stopped'] as const;

export function DeploymentReplicas({ replicas }: { replicas: Schema<'Deployment'>['replicas'] }) {
  return (
    <section aria-label="Replicas by phase">
      <h2>Replicas ({replicas.total})</h2>
      <ul className="phase-counts">
        {PHASES.map((phase) => (
          <li key={phase}>
            <span className="muted">{phase}</span> <strong>{replicas[phase]}</strong>
          </li>
        ))}
      </ul>
    </section>
  );
}
