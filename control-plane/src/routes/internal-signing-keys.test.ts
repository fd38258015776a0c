import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const kidOf = (token: string) =>
  JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0] ?? ''))).kid as string;

describe('POST /internal/v1/signing-keys/rotate', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('refuses callers without the operator token', async () => {
    expect((await t.client.call('POST', '/internal/v1/signing-keys/rotate')).status).toBe(401);
    const user = await t.client.register('not-an-operator');
    expect(
      (await t.client.call('POST', '/internal/v1/signing-keys/rotate', { token: user.accessToken })).status,
    ).toBe(401);
  });

  it('rotates without logging anyone out', async () => {
    const before = await t.client.register('before');
    const rotated = await t.client.call('POST', '/internal/v1/signing-keys/rotate', {
      token: t.operatorToken,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.json.kid).not.toBe(kidOf(before.accessToken));
    expect(rotated.json.publishedKids).toEqual(
      expect.arrayContaining([kidOf(before.accessToken), rotated.json.kid]),
    );
    expect((await t.client.call('GET', '/v1/auth/me', { token: before.accessToken })).status).toBe(200);
    const after = await t.client.register('after');
    expect(kidOf(after.accessToken)).toBe(rotated.json.kid);
  });
});
