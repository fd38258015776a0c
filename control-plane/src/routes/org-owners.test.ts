import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('an organisation keeps an owner', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  /** An org with two owners, each with a token in it that has been used once (both identities cached). */
  const twoOwners = async () => {
    const first = await t.client.register('first');
    const second = await t.client.joinOrg(first, await t.client.register('second'), 'owner');
    for (const s of [first, second]) await t.client.call('GET', '/v1/auth/me', { token: s.accessToken });
    return { first, second };
  };
  const ownerCount = async (token: string) => {
    const members = await t.client.call('GET', '/v1/org/members', { token });
    return members.json.items.filter((m: { role: string }) => m.role === 'owner').length;
  };

  it('lets only one of two owners who step down at the same moment do so', async () => {
    const { first, second } = await twoOwners();
    const stepDown = (s: typeof first) =>
      t.client.call('PATCH', `/v1/org/members/${s.userId}`, {
        token: s.accessToken,
        body: { role: 'admin' },
      });
    const answers = await Promise.all([stepDown(first), stepDown(second)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.json.error.message).toBe(
      'An organisation must keep at least one owner',
    );
    expect(await ownerCount(first.accessToken)).toBe(1);
  });

  it('lets only one of two owners who leave at the same moment do so', async () => {
    const { first, second } = await twoOwners();
    const leave = (s: typeof first) =>
      t.client.call('DELETE', `/v1/org/members/${s.userId}`, { token: s.accessToken });
    const answers = await Promise.all([leave(first), leave(second)]);
    expect(answers.map((a) => a.status).sort()).toEqual([204, 409]);
    const stayed = answers[0]?.status === 409 ? first : second;
    expect(await ownerCount(stayed.accessToken)).toBe(1);
  });
});
