import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { entryRow, parseLimit, parseTime, takeEntries } from './audit.js';

type Entry = Schema<'AuditEntry'>;

const NOW = Date.parse('2026-05-01T12:00:00Z');

function entry(id: string, minutesAgo: number, fields: Partial<Entry> = {}): Entry {
  return {
    id,
    actor: { type: 'user', id: 'usr_ada', name: 'ada@example.com' },
    action: 'model.create',
    target: { type: 'model', id: 'mdl_1' },
    requestId: 'req_1',
    clientIp: null,
    metadata: {},
    createdAt: new Date(NOW - minutesAgo * 60_000).toISOString(),
    ...fields,
  };
}

/** A newest-first log that counts how many entries were read from it. */
function log(entries: Entry[]) {
  const read = { count: 0 };
  async function* iterate() {
    for (const e of entries) {
      read.count++;
      yield e;
    }
  }
  return { entries: iterate(), read };
}

const usageError = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return [(err as CliError).exitCode, (err as CliError).message];
  }
  throw new Error('not refused');
};

describe('audit flags', () => {
  const parseSince = (value: string, now: number) => parseTime(value, '--since', now);

  it('reads --since as a duration back from now or as an ISO 8601 time', () => {
    expect(parseSince('1h', NOW).toISOString()).toBe('2026-05-01T11:00:00.000Z');
    expect(parseSince('90s', NOW).toISOString()).toBe('2026-05-01T11:58:30.000Z');
    expect(parseSince('2026-04-30T08:15:00Z', NOW).toISOString()).toBe('2026-04-30T08:15:00.000Z');
    expect(parseSince('2026-04-30T08:15:00+02:00', NOW).toISOString()).toBe('2026-04-30T06:15:00.000Z');
    expect(parseSince('2026-04-30', NOW).toISOString()).toBe('2026-04-30T00:00:00.000Z');
  });

  it('refuses a --since that is neither, as a usage error', () => {
    for (const bad of ['yesterday', '1 h', '-1h', '2026-13-45', '1w', ''])
      expect(usageError(() => parseSince(bad, NOW))).toEqual([
        2,
        `--since wants a duration such as 30m, 1h or 2d, or an ISO 8601 time, not ${bad}`,
      ]);
    expect(usageError(() => parseTime('soon', '--until', NOW))[1]).toMatch(/^--until wants/);
  });

  it('takes a --limit from 1 to 10000 in digits only', () => {
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('10000')).toBe(10_000);
    for (const bad of ['0', '10001', '-5', '1e3', '2.5', 'ten', ''])
      expect(usageError(() => parseLimit(bad))).toEqual([
        2,
        `--limit wants a whole number from 1 to 10,000, not ${bad}`,
      ]);
  });
});

describe('choosing audit entries', () => {
  const entries = [
    entry('a5', 1),
    entry('a4', 2, { actor: { type: 'api_key', id: 'key_ci', name: 'ci' } }),
    entry('a3', 30),
    entry('a2', 90),
    entry('a1', 120),
  ];

  it('keeps the newest first and stops at the limit without reading further', async () => {
    const { entries: all, read } = log(entries);
    expect((await takeEntries(all, 2)).map((e) => e.id)).toEqual(['a5', 'a4']);
    expect(read.count).toBe(2);
  });
});

describe('an audit entry as a person reads it', () => {
  const names = new Map([
    ['usr_ada', 'ada@example.com'],
    ['key_ci', 'key ci'],
  ]);

  it('names the actor and target from the lists, or from what the entry recorded', () => {
    const add = entry('a1', 0, { action: 'member.add', target: { type: 'user', id: 'usr_ada' } });
    expect(entryRow(add, names)).toEqual([add.createdAt, 'ada@example.com', 'member.add', 'ada@example.com']);
    const deploy = entry('a2', 0, {
      actor: { type: 'api_key', id: 'key_ci', name: 'ci' },
      action: 'deployment.create',
      target: { type: 'deployment', id: 'dep_1' },
      metadata: { name: 'ocr-cls' },
    });
    expect(entryRow(deploy, names).slice(1)).toEqual(['key ci', 'deployment.create', 'ocr-cls']);
  });

  it('shows the id of what it cannot name: a member the entry kept no e-mail of, a deleted key', () => {
    const gone = entry('a3', 0, {
      actor: { type: 'api_key', id: 'key_gone', name: null },
      action: 'member.remove',
      target: { type: 'user', id: 'usr_grace' },
      metadata: { keys: 'revoke' },
    });
    expect(entryRow(gone, names).slice(1)).toEqual(['key_gone', 'member.remove', 'usr_grace']);
  });

  it('names a former member by the e-mail their member.* entry kept', () => {
    const gone = entry('a4', 0, {
      action: 'member.remove',
      target: { type: 'user', id: 'usr_grace' },
      metadata: { keys: 'revoke', email: 'grace@example.com' },
    });
    expect(entryRow(gone, names).slice(2)).toEqual(['member.remove', 'grace@example.com']);
  });

  it('names an actor who is no longer a member, or a key since revoked, by the name the log gives', () => {
    const byFormer = entry('a5', 0, { actor: { type: 'user', id: 'usr_grace', name: 'grace@example.com' } });
    expect(entryRow(byFormer, names)[1]).toBe('grace@example.com');
    const byRevoked = entry('a6', 0, { actor: { type: 'api_key', id: 'key_old', name: 'old-ci' } });
    expect(entryRow(byRevoked, names)[1]).toBe('key old-ci');
  });
});
