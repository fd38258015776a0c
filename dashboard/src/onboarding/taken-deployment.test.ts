import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { takenOffer } from './taken-deployment';

type Deployment = Schema<'Deployment'>;

const deployment = (over: { modelId?: string; version?: number; rollout?: unknown } = {}) =>
  ({
    id: 'dep_1',
    name: 'fraud-api',
    modelId: over.modelId ?? 'mdl_1',
    modelName: 'fraud',
    version: { id: 'mv_1', version: over.version ?? 1, requested: `version:${over.version ?? 1}` },
    rollout: over.rollout ?? null,
  }) as unknown as Deployment;
const model = { id: 'mdl_1' };

describe('what the deploy step offers for a taken deployment name', () => {
  it('offers to roll the deployment to the uploaded version when it serves another version of the same model', () => {
    const d = deployment({ version: 1 });
    expect(takenOffer(d, model, { version: 2 })).toEqual({ kind: 'roll', deployment: d });
  });

  it('says it serves the version already when it does', () => {
    const d = deployment({ version: 2 });
    expect(takenOffer(d, model, { version: 2 })).toEqual({ kind: 'serves', deployment: d });
  });

  it('offers no roll for a deployment of another model, one judging a canary, or one it could not read', () => {
    expect(takenOffer(deployment({ modelId: 'mdl_other' }), model, { version: 2 })).toEqual({
      kind: 'other',
    });
    const canary = deployment({ rollout: { state: 'canary' } });
    expect(takenOffer(canary, model, { version: 2 })).toEqual({ kind: 'other' });
    expect(takenOffer(undefined, model, { version: 2 })).toEqual({ kind: 'other' });
    // A rollout that has ended no longer stands in the way.
    const promoted = deployment({ rollout: { state: 'promoted' } });
    expect(takenOffer(promoted, model, { version: 2 })).toEqual({ kind: 'roll', deployment: promoted });
  });
});
