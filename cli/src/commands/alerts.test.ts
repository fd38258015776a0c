import { describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';
import { condition } from './alerts.js';

describe('alert conditions', () => {
  it('says a rule in words, with the direction its metric fires in', () => {
    const rule = { metric: 'error_rate', threshold: 0.05, windowSeconds: 300, forSeconds: 60 } as const;
    expect(condition(rule)).toBe('error_rate > 0.05 over 5m, for 1m');
    expect(condition({ ...rule, metric: 'ready_replicas', threshold: 2, forSeconds: 0 })).toBe(
      'ready_replicas < 2 over 5m',
    );
  });
});

describe('meridian alerts create', () => {
  const rule = { id: 'alr_1', name: 'errors', metric: 'error_rate', threshold: 0.05, windowSeconds: 300 };
  const flags = ['--metric', 'error_rate', '--threshold', '0.05'];

  it('says when a rule notifies no one, and is quiet when it has a channel', async () => {
    const api = await fakeApi();
    try {
      api.answer({ 'POST /v1/alert-rules': { status: 201, body: { ...rule, channelIds: [] } } });
      const lonely = await api.run(['alerts', 'create', 'errors', ...flags]);
      expect(lonely.code).toBe(0);
      expect(lonely.stdout).toBe('Created alert errors: error_rate > 0.05 over 5m\n');
      expect(lonely.stderr).toMatch(/Alert errors notifies no one: .* create it with --channel <name>/);

      api.answer({
        'GET /v1/notification-channels': { items: [{ id: 'nch_1', name: 'ops', type: 'webhook' }] },
        'POST /v1/alert-rules': { status: 201, body: { ...rule, channelIds: ['nch_1'] } },
      });
      const told = await api.run(['alerts', 'create', 'errors', ...flags, '--channel', 'ops']);
      expect(told.code).toBe(0);
      expect(told.stderr).toBe('');
      expect(api.received.find((r) => r.method === 'POST')?.body).toMatchObject({ channelIds: ['nch_1'] });
    } finally {
      await api.close();
    }
  });
});
