import { UnauthenticatedError } from '@meridian/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CookieSession, type SignedInNote } from './session';

/** localStorage's part the session uses, kept in a Map: Node has no localStorage. */
const memoryNote = (): SignedInNote & { items: Map<string, string> } => {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
};

const pair = { accessToken: 'at', refreshToken: '', expiresIn: 900 } as Parameters<CookieSession['begin']>[0];

/** Records what the session sends; answers every request with the API's 401 envelope. */
const sent: string[] = [];
const refuseAll = async (url: string | URL | Request) => {
  sent.push(String(url));
  return Response.json(
    { error: { code: 'unauthenticated', message: 'Refresh token expired', requestId: 'req_1' } },
    { status: 401 },
  );
};

afterEach(() => {
  vi.unstubAllGlobals();
  sent.length = 0;
});

describe('the dashboard session', () => {
  it('sends no refresh from a browser that never signed in, and says it is logged out', async () => {
    vi.stubGlobal('fetch', refuseAll);
    const session = new CookieSession('http://api.test', memoryNote());
    await expect(session.renew()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(sent).toEqual([]);
  });

  it('notes a sign-in, and forgets it on sign-out', async () => {
    vi.stubGlobal('fetch', refuseAll);
    const note = memoryNote();
    const session = new CookieSession('http://api.test', note);
    session.begin(pair);
    expect([...note.items.keys()]).toHaveLength(1);
    await session.logout();
    expect(note.items.size).toBe(0);
  });

  it('renews from the cookie after a sign-in on an earlier visit, and forgets it when the API refuses', async () => {
    vi.stubGlobal('fetch', refuseAll);
    const note = memoryNote();
    new CookieSession('http://api.test', note).begin(pair);
    const session = new CookieSession('http://api.test', note);
    await expect(session.renew()).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(sent).toEqual(['http://api.test/v1/auth/refresh']);
    expect(note.items.size).toBe(0);
  });
});
