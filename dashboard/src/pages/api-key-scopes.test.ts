import { describe, expect, it } from 'vitest';
import { keyScopes } from './api-key-scopes';

describe('keyScopes', () => {
  it('narrows predict to the chosen deployments, keeping the other scopes', () => {
    expect(keyScopes(['predict', 'models:read'], ['cls', 'ocr'])).toEqual([
      'models:read',
      'predict:cls',
      'predict:ocr',
    ]);
  });

  it('keeps predict whole when no deployment is chosen, and adds none without predict', () => {
    expect(keyScopes(['predict'], [])).toEqual(['predict']);
    expect(keyScopes(['metrics'], ['cls'])).toEqual(['metrics']);
  });
});
