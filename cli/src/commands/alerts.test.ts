import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { condition, formatDuration, parseDuration } from './alerts.js';

describe('alert durations and conditions', () => {
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

  it('says a rule in words, with the direction its metric fires in', () => {
    expect(formatDuration(300)).toBe('5m');
    expect(formatDuration(5400)).toBe('90m');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(86_400)).toBe('1d');
    const rule = { metric: 'error_rate', threshold: 0.05, windowSeconds: 300, forSeconds: 60 } as const;
    expect(condition(rule)).toBe('error_rate > 0.05 over 5m, for 1m');
    expect(condition({ ...rule, metric: 'ready_replicas', threshold: 2, forSeconds: 0 })).toBe(
      'ready_replicas < 2 over 5m',
    );
  });
});
