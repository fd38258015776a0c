import { describe, expect, it } from 'vitest';
import { CliError } from './context.js';
import { wholeNumber } from './numbers.js';

describe('wholeNumber', () => {
  it('takes a whole number within its range and refuses anything else as a usage error naming the range', () => {
    expect(wholeNumber('0', '--tail', 0, 10_000)).toBe(0);
    expect(wholeNumber('10000', '--tail', 0, 10_000)).toBe(10_000);
    for (const bad of ['99999', '-5', '1.5', '', 'ten', '1e3']) {
      let error: unknown;
      try {
        wholeNumber(bad, '--tail', 0, 10_000);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(2);
      expect((error as Error).message).toBe(`--tail wants a whole number from 0 to 10,000, not ${bad}`);
    }
  });
});
