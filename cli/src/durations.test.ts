import { describe, expect, it } from 'vitest';
import { CliError } from './context.js';
import { formatDuration, parseDuration, parseDurationWithin } from './durations.js';

describe('durations', () => {
  it('reads durations as a person writes them, and refuses anything else as a usage error', () => {
    expect(parseDuration('90s', '--for')).toBe(90);
    expect(parseDuration('5m', '--window')).toBe(300);
    expect(parseDuration('2h', '--for')).toBe(7200);
    expect(parseDuration('1d', '--for')).toBe(86_400);
    expect(parseDuration('120', '--window')).toBe(120);
    for (const bad of ['', '5 m', '-5m', '1.5h', '5w', 'soon']) {
      expect(() => parseDuration(bad, '--window')).toThrow(CliError);
      try {
        parseDuration(bad, '--window');
      } catch (err) {
        expect((err as CliError).exitCode).toBe(2);
      }
    }
  });

  it('refuses a duration outside the bounds in the flag’s own words', () => {
    expect(parseDurationWithin('1m', '--window', 60, 31 * 86_400)).toBe(60);
    expect(parseDurationWithin('31d', '--window', 60, 31 * 86_400)).toBe(31 * 86_400);
    expect(() => parseDurationWithin('0m', '--window', 60, 31 * 86_400)).toThrow(
      '--window must be from 1m to 31d, not 0m',
    );
    expect(() => parseDurationWithin('32d', '--window', 60, 31 * 86_400)).toThrow(
      '--window must be from 1m to 31d, not 32d',
    );
    expect(() => parseDurationWithin('59s', '--window', 60, 31 * 86_400)).toThrow(CliError);
  });

  it('says seconds in the largest whole unit', () => {
    expect(formatDuration(300)).toBe('5m');
    expect(formatDuration(5400)).toBe('90m');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(86_400)).toBe('1d');
  });
});
