import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

const key = (over: Record<string, unknown> = {}) => ({
  id: 'key_1',
  name: 'ci',
  environment: 'live',
  start: 'mk_live_ab',
  scopes: ['predict'],
  rateLimits: [],
  status: 'active',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  createdBy: { type: 'user', id: 'usr_1' },
  roleCap: 'owner',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('meridian keys', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  it('create --limit sends each rate limit as the API takes it, the period as other durations', async () => {
    api.answer({ 'POST /v1/api-keys': { status: 201, body: { ...key(), secret: 'mk_live_secret' } } });
    const created = await api.run([
      'keys',
      'create',
      'ci',
      '--limit',
      'per-second=10/1s',
      '--limit',
      'daily=10000/1d',
      '--limit',
      'burst_2=5/90',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(api.received.map((r) => r.body)).toEqual([
      {
        name: 'ci',
        scopes: ['predict'],
        environment: 'live',
        rateLimits: [
          { name: 'per-second', limit: 10, periodSeconds: 1 },
          { name: 'daily', limit: 10_000, periodSeconds: 86_400 },
          { name: 'burst_2', limit: 5, periodSeconds: 90 },
        ],
      },
    ]);
  });

  it('create names the key it made, its id after for machines, beside the secret shown once', async () => {
    api.answer({ 'POST /v1/api-keys': { status: 201, body: { ...key(), secret: 'mk_live_secret' } } });
    const created = await api.run(['keys', 'create', 'ci']);
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('mk_live_secret\n(key ci, key_1; the secret is shown only now)\n');
  });

  it.each([
    ['daily', /--limit wants NAME=N\/PERIOD/],
    ['daily=10000', /--limit wants NAME=N\/PERIOD/],
    ['Daily=1/1d', /the name is 1 to 32 lower-case letters/],
    ['=1/1d', /not empty/],
    ['daily=ten/1d', /--limit daily wants a whole number from 1 to 1,000,000,000, not ten/],
    ['daily=0/1d', /--limit daily wants a whole number from 1 to 1,000,000,000, not 0/],
    ['daily=1.5/1d', /--limit daily wants a whole number/],
    ['daily=10/1w', /--limit daily period wants a duration such as 90s/],
    ['daily=10/0s', /--limit daily period must be from 1s to 31d, not 0s/],
    ['monthly=10/32d', /--limit monthly period must be from 1s to 31d, not 32d/],
  ])('create --limit %s is a usage error (exit 2) before any request', async (limit, message) => {
    api.answer({});
    const refused = await api.run(['keys', 'create', 'ci', '--limit', limit]);
    expect(refused.stderr).toMatch(message);
    expect(refused.code).toBe(2);
    expect(api.received).toEqual([]);
  });

  it('create --expires-at takes a date as its UTC midnight and a time with its zone, sent as UTC', async () => {
    for (const [given, sent] of [
      ['2027-01-01', '2027-01-01T00:00:00.000Z'],
      ['2027-01-01T12:30:00+02:00', '2027-01-01T10:30:00.000Z'],
      ['2027-01-01T12:30:00Z', '2027-01-01T12:30:00.000Z'],
    ]) {
      api.answer({ 'POST /v1/api-keys': { status: 201, body: { ...key(), secret: 'mk_live_secret' } } });
      const created = await api.run(['keys', 'create', 'ci', '--expires-at', given as string]);
      expect(created.code, created.stderr).toBe(0);
      expect(api.received[0]?.body).toMatchObject({ expiresAt: sent });
    }
  });

  it.each(['tomorrow', '2027-02-30', '2027-01-01T12:00:00', '01/02/2027'])(
    'create --expires-at %s is a usage error (exit 2) before any request',
    async (given) => {
      api.answer({});
      const refused = await api.run(['keys', 'create', 'ci', '--expires-at', given]);
      expect([refused.code, refused.stderr]).toEqual([
        2,
        `meridian: --expires-at wants a date (2027-01-01, its UTC midnight) or a time with its zone (2027-01-01T12:00:00Z), not ${given}\n`,
      ]);
      expect(api.received).toEqual([]);
    },
  );

  it('refuses a name given twice, and more limits than the API keeps', async () => {
    api.answer({});
    const twice = await api.run(['keys', 'create', 'ci', '--limit', 'a=1/1s', '--limit', 'a=2/1m']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--limit a is given twice');
    const many = Array.from({ length: 11 }, (_, i) => ['--limit', `l${i}=1/1s`]).flat();
    const tooMany = await api.run(['keys', 'create', 'ci', ...many]);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain('at most 10 --limit, not 11');
    expect(api.received).toEqual([]);
  });

  it('create without --limit sends no rateLimits (the server’s default: none)', async () => {
    api.answer({ 'POST /v1/api-keys': { status: 201, body: { ...key(), secret: 'mk_live_secret' } } });
    expect((await api.run(['keys', 'create', 'ci'])).code).toBe(0);
    expect(api.received[0]?.body).not.toHaveProperty('rateLimits');
  });

  it('list shows each key’s limits, when it expires and when it was last used', async () => {
    api.answer({
      'GET /v1/api-keys': {
        items: [
          key({
            rateLimits: [
              { name: 'per-second', limit: 10, periodSeconds: 1 },
              { name: 'daily', limit: 10_000, periodSeconds: 86_400 },
            ],
            expiresAt: '2027-01-01T00:00:00.000Z',
            lastUsedAt: '2026-06-01T12:00:00.000Z',
          }),
          key({ id: 'key_2', name: 'idle' }),
        ],
        nextCursor: null,
      },
    });
    const listed = await api.run(['keys', 'list']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trimEnd().split('\n');
    expect(rows[0]?.split(/\s{2,}/)).toEqual([
      'ID',
      'NAME',
      'START',
      'SCOPES',
      'LIMITS',
      'STATUS',
      'EXPIRES',
      'LAST USED',
    ]);
    expect(rows[1]?.split(/\s{2,}/)).toEqual([
      'key_1',
      'ci',
      'mk_live_ab',
      'predict',
      'per-second=10/1s,daily=10000/1d',
      'active',
      '2027-01-01T00:00:00.000Z',
      '2026-06-01T12:00:00.000Z',
    ]);
    expect(rows[2]?.split(/\s{2,}/)).toEqual([
      'key_2',
      'idle',
      'mk_live_ab',
      'predict',
      'active',
      'never',
      'never',
    ]);
  });
});
