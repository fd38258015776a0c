import { describe, expect, it } from 'vitest';
import { gpuFields, hardwareText } from './gpus';

describe('hardwareText', () => {
  it('names the count only when there is more than one GPU', () => {
    expect(hardwareText({ gpuType: 't4', gpuCount: 2 })).toBe('t4 × 2');
    expect(hardwareText({ gpuType: 'v100', gpuCount: 8 })).toBe('v100 × 8');
    expect(hardwareText({ gpuType: 't4', gpuCount: 1 })).toBe('t4');
    expect(hardwareText({ gpuType: 'cpu', gpuCount: 0 })).toBe('cpu');
  });
});

describe('gpuFields', () => {
  it('keeps the count for a GPU type and leaves it out for cpu', () => {
    expect(gpuFields('rtx4090', 3)).toEqual({ gpuType: 'rtx4090', gpuCount: 3 });
    expect(gpuFields('cpu', 3)).toEqual({ gpuType: 'cpu' });
  });
});
