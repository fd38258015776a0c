import type { Schema } from '@meridian/sdk';

type Deployment = Schema<'Deployment'>;

/**
 * What the deploy step offers when the organisation already has a deployment of the name asked for: to roll it
 * to the uploaded version in place (`roll`: it serves another version of the same model, and no canary runs
 * on it), to open it (`serves`: it serves that version already), or another name only (`other`: it serves
 * another model, a canary is being judged on it, or it could not be read).
 */
export type TakenOffer =
  | { kind: 'roll'; deployment: Deployment }
  | { kind: 'serves'; deployment: Deployment }
  | { kind: 'other' };

export function takenOffer(
  deployment: Deployment | undefined,
  model: Pick<Schema<'Model'>, 'id'>,
  version: Pick<Schema<'ModelVersion'>, 'version'>,
): TakenOffer {
  if (!deployment || deployment.modelId !== model.id) return { kind: 'other' };
  if (deployment.rollout?.state === 'canary') return { kind: 'other' };
  if (deployment.version.version === version.version) return { kind: 'serves', deployment };
  return { kind: 'roll', deployment };
}
