import { describe, expect, it } from 'vitest';
import { notebookRequestBody } from './notebook-form';

describe('the new notebook form', () => {
  it('sends the GPU count for a GPU type', () => {
    expect(notebookRequestBody({ name: 'lab', gpuType: 'v100', gpuCount: 4, idleMinutes: 30 })).toEqual({
      name: 'lab',
      gpuType: 'v100',
      gpuCount: 4,
      idleTimeoutSeconds: 1800,
    });
  });

  it('sends no GPU count for cpu, which takes none (the API refuses one)', () => {
    const body = notebookRequestBody({ name: 'lab', gpuType: 'cpu', gpuCount: 2, idleMinutes: 60 });
    expect(body).toEqual({ name: 'lab', gpuType: 'cpu', idleTimeoutSeconds: 3600 });
    expect('gpuCount' in body).toBe(false);
  });
});
