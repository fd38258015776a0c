import type { Schema } from '@meridian/sdk';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { DeploymentRow } from './deployments-page';

const deployment = (over: Partial<Schema<'Deployment'>>) =>
  ({
    id: 'dep_1',
    name: 'fraud-api',
    modelName: 'fraud-detector',
    version: { id: 'ver_1', version: 3, requested: '3' },
    status: 'ready',
    desiredReplicas: 1,
    replicas: { ready: 1 },
    rollout: null,
    gpuType: 't4',
    gpuCount: 1,
    updatedAt: '2025-01-02T03:04:05Z',
    ...over,
  }) as unknown as Schema<'Deployment'>;

const row = (d: Schema<'Deployment'>) =>
  renderToStaticMarkup(
    <table>
      <tbody>
        <DeploymentRow deployment={d} />
      </tbody>
    </table>,
  );

describe('the deployments list', () => {
  it('shows how many GPUs each replica has when it has more than one', () => {
    expect(row(deployment({ gpuType: 't4', gpuCount: 2 }))).toContain('<td>t4 × 2</td>');
  });

  it('shows the type alone for one GPU, or for cpu', () => {
    expect(row(deployment({ gpuType: 't4', gpuCount: 1 }))).toContain('<td>t4</td>');
    expect(row(deployment({ gpuType: 'cpu', gpuCount: 0 }))).toContain('<td>cpu</td>');
  });
});
