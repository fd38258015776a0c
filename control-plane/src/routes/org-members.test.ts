import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Member = { userId: string; email: string; role: string };

// GET /v1/org/members answered every member in one list; it now pages as the other lists do (limit, cursor,
// nextCursor), in the order people joined.
describe('the members list, a page at a time', () => {
  let t: TestApp;
  let owner: Session;
  const joined: string[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    joined.push(owner.email);
    for (let i = 0; i < 6; i++) {
      const member = await t.client.joinOrg(owner, await t.client.register(`m${i}`), 'member');
      joined.push(member.email);
    }
  });
  afterAll(() => t.cleanup());

  const list = (query: string, token = owner.accessToken) =>
    t.client.call('GET', `/v1/org/members${query}`, { token });

  it('lists every member once, in the order they joined, following nextCursor to its null', async () => {
    const pages: Member[][] = [];
    let cursor: string | null = null;
    do {
      const res = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).toBe(200);
      pages.push(res.json.items);
      cursor = res.json.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat().map((m) => m.email)).toEqual(joined);
  });

  it('answers the first 50 without a limit, with the cursor of the next page only when there is one', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.json.items.map((m: Member) => m.email)).toEqual(joined);
    expect(res.json.nextCursor).toBeNull();
    const exact = await list(`?limit=${joined.length}`);
    expect(exact.json.nextCursor).toBeNull();
    expect((await list(`?limit=${joined.length - 1}`)).json.nextCursor).toEqual(expect.any(String));
  });

  it('refuses a bad limit or cursor in the words the API keys list uses', async () => {
    for (const query of ['?limit=0', '?limit=201', '?limit=1e3', '?cursor=mem_nope']) {
      const members = await list(query);
      const keys = await t.client.call('GET', `/v1/api-keys${query.replace('mem_', 'key_')}`, {
        token: owner.accessToken,
      });
      expect(members.status, query).toBe(400);
      expect(members.json.error.details, query).toEqual(keys.json.error.details);
    }
    expect((await list('?limit=201')).json.error.details).toEqual([
      { path: 'limit', message: 'must be a whole number from 1 to 200' },
    ]);
  });

  it("shows none of another organisation's members, whatever cursor it is given", async () => {
    const stranger = await t.client.register('stranger');
    const theirMember = await t.client.joinOrg(stranger, await t.client.register('their-member'), 'viewer');
    const emailsOf = (res: { json: { items: Member[] } }) => res.json.items.map((m) => m.email);
    const theirs = await list('?limit=1', stranger.accessToken);
    const ours = await list('?limit=1');
    // Their cursor on our list, and ours on theirs: each sees only its own members.
    const crossedIntoOurs = await list(`?limit=200&cursor=${theirs.json.nextCursor}`);
    const crossedIntoTheirs = await list(`?limit=200&cursor=${ours.json.nextCursor}`, stranger.accessToken);
    expect(crossedIntoOurs.status).toBe(200);
    for (const email of emailsOf(crossedIntoOurs)) expect(joined).toContain(email);
    for (const email of emailsOf(crossedIntoTheirs))
      expect([stranger.email, theirMember.email]).toContain(email);
  });
});
