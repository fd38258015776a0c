import { describe, expect, it } from 'vitest';
import { formatQuantity } from './format';

describe('formatQuantity', () => {
  it('makes the API’s singular units plural unless the quantity is one', () => {
    expect(formatQuantity(1, 'call')).toBe('1 call');
    expect(formatQuantity(2, 'call')).toBe('2 calls');
    expect(formatQuantity(0, 'minute')).toBe('0 minutes');
    expect(formatQuantity(1440, 'MB-hour')).toMatch(/^1.440 MB-hours$/);
    expect(formatQuantity(1, 'month')).toBe('1 month');
  });
});
