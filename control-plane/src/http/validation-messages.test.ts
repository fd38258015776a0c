import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueBootstrapToken, sampleRegistration } from '../../testing/agents.js';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const RUN = `run_${'0'.repeat(26)}`;
const key = (fields: Record<string, unknown>) => ({ name: 'ci', scopes: ['predict'], ...fields });
const limit = (fields: Record<string, unknown>) =>
  key({ rateLimits: [{ name: 'rpm', limit: 60, periodSeconds: 60, ...fields }] });

/** One bad input per kind of refusal: the route, what is sent, and the detail the API answers. */
type Case = {
  kind: string;
  method: 'GET' | 'POST';
  path: string;
  body?: (bootstrapToken: string) => unknown;
  expected: { path: string; message: string };
};
const CASES: Case[] = [
  {
    kind: 'a string too long',
    ...post('/v1/api-keys', key({ name: 'x'.repeat(101) })),
    expected: { path: 'name', message: 'must be at most 100 characters' },
  },
  {
    kind: 'a string empty once trimmed',
    ...post('/v1/api-keys', key({ name: '   ' })),
    expected: { path: 'name', message: 'must not be empty' },
  },
  {
    kind: 'a missing field',
    ...post('/v1/api-keys', { name: 'ci' }),
    expected: { path: 'scopes', message: 'is required' },
  },
  {
    kind: 'a field of the wrong type',
    ...post('/v1/api-keys', key({ name: 42 })),
    expected: { path: 'name', message: 'must be a string' },
  },
  {
    kind: 'a null field',
    ...post('/v1/api-keys', key({ name: null })),
    expected: { path: 'name', message: 'must be a string, not null' },
  },
  {
    kind: 'a body that is not an object',
    ...post('/v1/api-keys', ['ci']),
    expected: { path: '(body)', message: 'must be a JSON object' },
  },
  {
    kind: 'a value not in an enum',
    ...post('/v1/org/invitations', { email: 'ada@example.com', role: 'root' }),
    expected: { path: 'role', message: 'must be one of owner, admin, member, viewer' },
  },
  {
    kind: 'a number above its range',
    ...post('/v1/api-keys', limit({ limit: 2_000_000_000 })),
    expected: { path: 'rateLimits.0.limit', message: 'must be a whole number from 1 to 1,000,000,000' },
  },
  {
    kind: 'a number below its range',
    ...post('/v1/api-keys', limit({ periodSeconds: 0 })),
    expected: { path: 'rateLimits.0.periodSeconds', message: 'must be a whole number from 1 to 2,678,400' },
  },
  {
    kind: 'a fraction where a whole number goes',
    ...post('/v1/api-keys', limit({ periodSeconds: 1.5 })),
    expected: { path: 'rateLimits.0.periodSeconds', message: 'must be a whole number from 1 to 2,678,400' },
  },
  {
    kind: 'a string where a number goes',
    ...post('/v1/api-keys', limit({ limit: '60' })),
    expected: { path: 'rateLimits.0.limit', message: 'must be a whole number from 1 to 1,000,000,000' },
  },
  {
    kind: 'an empty array',
    ...post('/v1/api-keys', key({ scopes: [] })),
    expected: { path: 'scopes', message: 'must not be empty' },
  },
  {
    kind: 'an array too long',
    ...post('/v1/api-keys', key({ scopes: Array(51).fill('predict') })),
    expected: { path: 'scopes', message: 'must have at most 50 items' },
  },
  {
    kind: 'a malformed date-time',
    ...post('/v1/api-keys', key({ expiresAt: 'tomorrow' })),
    expected: { path: 'expiresAt', message: 'must be a date-time such as 2027-01-01T00:00:00Z' },
  },
  {
    kind: 'a malformed e-mail address',
    ...post('/v1/auth/register', { email: 'ada', password: 'correct horse battery', name: 'Ada' }),
    expected: { path: 'email', message: 'must be an email address such as ada@example.com' },
  },
  {
    kind: 'a malformed URL',
    method: 'POST',
    path: '/agent/v1/register',
    body: (token) => ({ ...sampleRegistration(token), dataPlaneUrl: 'not a url' }),
    expected: { path: 'dataPlaneUrl', message: 'must be a URL such as https://example.com' },
  },
  {
    kind: 'a string off its pattern (the schema gives no words)',
    method: 'GET',
    path: `/v1/runs/${RUN}/artifacts?prefix=a%20b`,
    expected: { path: 'prefix', message: 'must match the pattern /^[A-Za-z0-9._/-]*$/' },
  },
  {
    kind: 'an unknown field of the body',
    ...post('/v1/api-keys', key({ colour: 'red' })),
    expected: { path: '(body)', message: 'does not take the field colour' },
  },
  {
    kind: 'unknown fields of a nested object',
    ...post('/v1/api-keys', limit({ burst: 5, window: 1 })),
    expected: { path: 'rateLimits.0', message: 'does not take the fields burst, window' },
  },
  // Words a schema gives itself are kept: a refinement's, a pattern's, a query integer's range.
  {
    kind: 'a refinement with its own words',
    ...post('/v1/api-keys', key({ name: 'tab\there' })),
    expected: { path: 'name', message: 'must not contain control characters' },
  },
  {
    kind: 'a pattern with its own words',
    ...post('/v1/api-keys', limit({ name: 'Per Minute' })),
    expected: { path: 'rateLimits.0.name', message: 'lower-case letters, digits, _ or -' },
  },
  {
    kind: 'a query integer out of its range',
    method: 'GET',
    path: '/v1/api-keys?limit=500',
    expected: { path: 'limit', message: 'must be a whole number from 1 to 200' },
  },
];

function post(path: string, body: unknown): Pick<Case, 'method' | 'path' | 'body'> {
  return { method: 'POST', path, body: () => body };
}

describe("validation refusals in Meridian's words", () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('validation');
  });
  afterAll(() => t.cleanup());

  it.each(CASES)('names the field and what it must be: $kind', async ({ method, path, body, expected }) => {
    const token = body ? await issueBootstrapToken(t) : '';
    const res = await t.client.call(method, path, {
      token: owner.accessToken,
      ...(body ? { body: body(token) } : {}),
    });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toEqual({
      code: 'validation_failed',
      message: `${expected.path}: ${expected.message}`,
      requestId: expect.any(String),
      details: [expected],
    });
  });

  it('names the first three refused fields in the message and every one in the details', async () => {
    const res = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: '', environment: 'prod', scopes: [], expiresAt: 'soon', colour: 'red' },
    });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.message).toBe(
      'name: must not be empty; environment: must be one of live, test; scopes: must not be empty; and 2 more',
    );
    expect(res.json.error.details).toEqual([
      { path: 'name', message: 'must not be empty' },
      { path: 'environment', message: 'must be one of live, test' },
      { path: 'scopes', message: 'must not be empty' },
      { path: 'expiresAt', message: 'must be a date-time such as 2027-01-01T00:00:00Z' },
      { path: '(body)', message: 'does not take the field colour' },
    ]);
  });

  it('names a field with a lone surrogate in the message too, as it does a field zod refuses', async () => {
    const res = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: '{"name":"a\\ud800b","scopes":["predict"]}',
    });
    expect(res.status, res.text).toBe(400);
    const message = 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff)';
    expect(res.json.error).toMatchObject({
      message: `name: ${message}`,
      details: [{ path: 'name', message }],
    });
  });

  it("leaves no field to zod's own words", async () => {
    const res = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 7, environment: 1, scopes: 'predict', expiresAt: 3, rateLimits: [{}] },
    });
    expect(res.status, res.text).toBe(400);
    expect(res.text).not.toMatch(
      /Too big|Too small|Invalid (input|option|string|ISO)|expected \w+, received/,
    );
  });
});
