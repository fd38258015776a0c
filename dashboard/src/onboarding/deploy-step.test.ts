import { describe, expect, it } from 'vitest';
import { deployRequestBody, nextName } from './deploy-step';

const form = { name: 'fraud-api', model: 'mdl_1', version: 3, gpuCount: 2 };

describe('the deploy form', () => {
  it('sends the GPU count for a GPU type', () => {
    expect(deployRequestBody({ ...form, gpuType: 't4' })).toEqual({
      name: 'fraud-api',
      model: 'mdl_1',
      version: 3,
      gpuType: 't4',
      gpuCount: 2,
      minReplicas: 1,
      maxReplicas: 1,
    });
  });

  it('sends no GPU count for cpu, which takes none (the API refuses one)', () => {
    const body = deployRequestBody({ ...form, gpuType: 'cpu' });
    expect(body).toEqual({
      name: 'fraud-api',
      model: 'mdl_1',
      version: 3,
      gpuType: 'cpu',
      minReplicas: 1,
      maxReplicas: 1,
    });
    expect('gpuCount' in body).toBe(false);
  });

  it('offers another name for one already taken', () => {
    expect(nextName('fraud-api')).toBe('fraud-api-2');
    expect(nextName('fraud-api-2')).toBe('fraud-api-3');
    expect(nextName('fraud-api-v9')).toBe('fraud-api-v9-2');
  });
});
