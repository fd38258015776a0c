import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { silencedBy } from './alert-silences.js';

const silence = (createdBy: Schema<'AlertSilence'>['createdBy']): Schema<'AlertSilence'> => ({
  id: 'als_1',
  ruleId: null,
  startsAt: '2026-12-06T00:00:00.000Z',
  endsAt: '2026-12-06T02:00:00.000Z',
  comment: '',
  createdBy,
});

describe('who made a silence, as the list shows it', () => {
  it('names a user by e-mail and a key as the audit log does', () => {
    expect(silencedBy(silence({ type: 'user', id: 'usr_1', name: 'ada@example.com' }))).toBe(
      'ada@example.com',
    );
    expect(silencedBy(silence({ type: 'api_key', id: 'key_1', name: 'pager-bot' }))).toBe('key pager-bot');
  });

  it('falls back to the id when no name is known, and to a dash for silences made before it was kept', () => {
    expect(silencedBy(silence({ type: 'api_key', id: 'key_9', name: null }))).toBe('key_9');
    expect(silencedBy(silence(null))).toBe('-');
  });
});
