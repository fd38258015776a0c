import { describe, expect, it } from 'vitest';
import { parseSince, sinceProblem } from './since.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');

describe('parseSince', () => {
  it('reads a duration back from now', () => {
    expect(parseSince('90s', NOW)).toBe(NOW - 90_000);
    expect(parseSince('10m', NOW)).toBe(NOW - 600_000);
    expect(parseSince('2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseSince('1d', NOW)).toBe(NOW - 86_400_000);
  });

  it('reads a duration reaching back past 1970 as the epoch: every line kept, not a time an agent refuses', () => {
    expect(parseSince('99999d', NOW)).toBe(0);
    expect(parseSince('999999999d', NOW)).toBe(0);
    expect(sinceProblem('99999d', NOW)).toBeUndefined();
  });

  it('reads an RFC 3339 time with its zone', () => {
    expect(parseSince('2026-06-01T11:00:00Z', NOW)).toBe(NOW - 3_600_000);
    expect(parseSince('2026-06-01T13:00:00.5+02:00', NOW)).toBe(NOW - 3_600_000 + 500);
  });

  it.each([
    '',
    'yesterday',
    '10',
    '10 m',
    '-5m',
    '2026-06-01',
    '2026-06-01T11:00:00',
    '2026-13-45T99:00:00Z',
    '1w',
  ])('refuses %j', (raw) => {
    expect(parseSince(raw, NOW)).toBeUndefined();
    expect(sinceProblem(raw, NOW)).toEqual(expect.any(String));
  });

  it('says what is wrong: the format, a time that does not exist, or one before 1970', () => {
    expect(sinceProblem('yesterday', NOW)).toBe(
      'since is an RFC 3339 time (2026-01-02T03:04:05Z) or a duration back from now (90s, 10m, 2h, 1d)',
    );
    expect(sinceProblem('2026-13-45T00:00:00Z', NOW)).toBe(
      'since is written as an RFC 3339 time but is not a real one',
    );
    expect(sinceProblem('0001-01-01T00:00:00Z', NOW)).toBe(
      'since is out of range: the earliest is 1970-01-01T00:00:00Z',
    );
    expect(sinceProblem('1970-01-01T00:00:00Z', NOW)).toBeUndefined();
    expect(sinceProblem('10m', NOW)).toBeUndefined();
  });
});
