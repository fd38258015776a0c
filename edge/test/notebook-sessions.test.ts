import { createExecutionContext } from 'cloudflare:test';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEdgeApp } from '../src/app.js';
import { openNotebookSession, sealNotebookSession } from '../src/notebooks/session-cookie.js';
import { testEnv } from './helpers/auth-env.js';
import { FakeControlPlane, uniqueId } from './helpers/auth-fake-control-plane.js';
import { newSigner, signAccessToken, type TestSigner } from './helpers/auth-tokens.js';

// The notebook proxy's browser session inside workerd. The control plane and the notebook server are
// fakes behind the stubbed fetch (neither runs in workerd); the real Jupyter, Chromium and the whole stack
// are in test/notebooks-browser.test.ts.
const SECRET = 'edge-test-token';
const NOTEBOOK_TOKEN = 'j'.repeat(32);
let signer: TestSigner;
let cp: FakeControlPlane;
/** What the fake Jupyter received: path, and the headers the edge sent. */
let upstream: { path: string; authorization: string | null; cookie: string | null }[];
/** While set, the control plane's notebook lookup answers 503, as when it is overloaded or restarting. */
let lookupsFail: boolean;

beforeAll(async () => {
  signer = await newSigner();
});

beforeEach(() => {
  cp = new FakeControlPlane();
  cp.jwks = { keys: [signer.jwk] };
  upstream = [];
  lookupsFail = false;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    // Where a notebook ran before it was stopped: nothing listens there any more.
    if (url.host === 'gone.test') throw new TypeError('connect ECONNREFUSED');
    if (url.host === 'agent.test') {
      upstream.push({
        path: url.pathname + url.search,
        authorization: request.headers.get('authorization'),
        cookie: request.headers.get('cookie'),
      });
      return new Response('<html>jupyter</html>', { headers: { 'content-type': 'text/html' } });
    }
    const notebook = /^\/internal\/v1\/notebooks\/(nb_[a-z0-9]+)$/.exec(url.pathname)?.[1];
    if (notebook && lookupsFail) return new Response('overloaded', { status: 503 });
    if (notebook)
      return Response.json(notebooks.get(notebook) ?? { error: { code: 'not_found' } }, {
        status: notebooks.has(notebook) ? 200 : 404,
      });
    return cp.fetch(request);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const notebooks = new Map<string, object>();
const app = createEdgeApp();

/** A running notebook of a new user, a live login of theirs, and a token from that login. */
async function ownedNotebook(options: { expiresAt?: string } = {}) {
  const orgId = uniqueId('org');
  const userId = uniqueId('usr');
  const sessionId = cp.addSession(userId, orgId);
  if (options.expiresAt)
    cp.sessions.set(sessionId, { status: 'active', sessionId, userId, orgId, expiresAt: options.expiresAt });
  const id = `nb_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
  notebooks.set(id, {
    notebookId: id,
    name: 'churn-exploration',
    orgId,
    ownerId: userId,
    status: 'running',
    endpoint: `http://agent.test/notebooks/${id}/`,
    token: NOTEBOOK_TOKEN,
  });
  const token = await signAccessToken(signer, { userId, orgId, sessionId });
  return { id, orgId, userId, sessionId, token };
}

/** The notebook's own origin (where browsers use it), from the notebook id in `path`. */
const ownOrigin = (path: string, scheme = 'http') =>
  `${scheme}://nb-${/\/notebooks\/nb_([0-9a-z]+)/.exec(path)?.[1]}.notebooks.localhost`;
/** The edge's shared origin, where only clients that carry their token are served. */
const SHARED = 'http://edge.test';

const open = (path: string, headers: Record<string, string> = {}, host = ownOrigin(path)) =>
  app.request(`${host}${path}`, { headers, redirect: 'manual' }, testEnv());

describe('notebook browser sessions', () => {
  it('trades the access token for a cookie scoped to the notebook and redirects to the URL without it', async () => {
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    const nb = await ownedNotebook({ expiresAt });
    const res = await open(`/notebooks/${nb.id}/tree?x=1&access_token=${nb.token}`, { accept: 'text/html' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`/notebooks/${nb.id}/tree?x=1`);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^meridian_notebook_session=v1\\.${nb.id}\\.`));
    expect(cookie).toContain(`Path=/notebooks/${nb.id}/`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).not.toContain('Secure');
    // It lives as long as the login (30 days here), not the 15-minute token.
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThan(29 * 24 * 3600);
    expect(upstream).toEqual([]);

    const path = `/notebooks/${nb.id}/?access_token=${nb.token}`;
    const secure = await open(path, {}, ownOrigin(path, 'https'));
    expect(secure.headers.get('set-cookie')).toContain('Secure');
  });

  it('authorises every later request with the cookie, forwarding with the server token and never the cookie', async () => {
    const nb = await ownedNotebook();
    const value = sealNotebookSession(SECRET, { notebookId: nb.id, ...nb });
    const res = await open(`/notebooks/${nb.id}/static/main.js`, {
      cookie: `_xsrf=abc; meridian_notebook_session=${value}`,
    });
    expect(res.status).toBe(200);
    expect(upstream).toEqual([
      {
        path: `/notebooks/${nb.id}/static/main.js`,
        authorization: `token ${NOTEBOOK_TOKEN}`,
        cookie: '_xsrf=abc',
      },
    ]);
  });

  it('answers another user 404 and no credential 401: a page for a browser, JSON for a client', async () => {
    const nb = await ownedNotebook();
    const stranger = await ownedNotebook();
    const page = await open(`/notebooks/${nb.id}/?access_token=${stranger.token}`, { accept: 'text/html' });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(await page.text()).toContain('<h1>Notebook not found</h1>');
    // A cookie sealed for the stranger's own notebook does not open this one either.
    const theirs = sealNotebookSession(SECRET, { notebookId: stranger.id, ...stranger });
    const cross = await open(`/notebooks/${nb.id}/api/contents`, {
      cookie: `meridian_notebook_session=${theirs}`,
    });
    expect(cross.status).toBe(401);
    const none = await open(`/notebooks/${nb.id}/api/contents`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    expect(upstream).toEqual([]);
  });

  it('ends with the login: a revoked or expired login answers 401 and drops the cookie', async () => {
    const nb = await ownedNotebook();
    const value = sealNotebookSession(SECRET, { notebookId: nb.id, ...nb });
    cp.revokeSession(nb.sessionId);
    const res = await open(`/notebooks/${nb.id}/tree`, {
      accept: 'text/html',
      cookie: `meridian_notebook_session=${value}`,
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('Your login has ended');
    expect(res.headers.get('set-cookie')).toMatch(
      /^meridian_notebook_session=; Max-Age=0; Path=\/notebooks\//,
    );

    const expired = await ownedNotebook({ expiresAt: new Date(Date.now() - 1_000).toISOString() });
    const old = sealNotebookSession(SECRET, { notebookId: expired.id, ...expired });
    const gone = await open(`/notebooks/${expired.id}/tree`, { cookie: `meridian_notebook_session=${old}` });
    expect(gone.status).toBe(401);
  });

  it('follows a notebook that was stopped and started elsewhere within the isolate cache of where it runs', async () => {
    const nb = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    const record = notebooks.get(nb.id) as { endpoint: string | null; status: string };
    record.endpoint = `http://gone.test/notebooks/${nb.id}/`;
    expect((await open(`/notebooks/${nb.id}/tree`, { cookie })).status).toBe(503); // and now cached
    // Started again on another server: a GET is sent there at once, not after the cache expires.
    record.endpoint = `http://agent.test/notebooks/${nb.id}/`;
    const moved = await open(`/notebooks/${nb.id}/tree`, { cookie });
    expect(moved.status).toBe(200);
    expect(upstream.map((u) => u.path)).toEqual([`/notebooks/${nb.id}/tree`]);
  });

  it('checks a notebook cached as stopped again before refusing it, and does not replay a body', async () => {
    const nb = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    const record = notebooks.get(nb.id) as { endpoint: string | null; status: string };
    Object.assign(record, { status: 'stopped', endpoint: null });
    const refused = await open(`/notebooks/${nb.id}/tree`, { cookie });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    Object.assign(record, { status: 'running', endpoint: `http://agent.test/notebooks/${nb.id}/` });
    expect((await open(`/notebooks/${nb.id}/tree`, { cookie })).status).toBe(200);

    // A PUT to a server that went away is answered 503 (its body may be spent), never sent twice.
    const stale = await ownedNotebook();
    const staleCookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: stale.id, ...stale })}`;
    const staleRecord = notebooks.get(stale.id) as { endpoint: string };
    staleRecord.endpoint = `http://gone.test/notebooks/${stale.id}/`;
    await open(`/notebooks/${stale.id}/tree`, { cookie: staleCookie });
    staleRecord.endpoint = `http://agent.test/notebooks/${stale.id}/`;
    const ctx = createExecutionContext();
    const put = await app.request(
      `${ownOrigin(`/notebooks/${stale.id}/`)}/notebooks/${stale.id}/api/contents/a.txt`,
      { method: 'PUT', headers: { cookie: staleCookie }, body: '{"type":"file"}' },
      testEnv(),
      ctx,
    );
    expect(put.status).toBe(503);
    await put.body?.cancel();
    expect(upstream.filter((u) => u.path.includes(stale.id))).toEqual([]);
    expect((await open(`/notebooks/${stale.id}/api/contents/a.txt`, { cookie: staleCookie })).status).toBe(
      200,
    );
  });

  it('answers 503 with Retry-After, never 500, while the control plane cannot say where a notebook runs', async () => {
    const nb = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    lookupsFail = true;
    const json = await open(`/notebooks/${nb.id}/api/contents`, { cookie });
    expect(json.status).toBe(503);
    expect(json.headers.get('retry-after')).toBe('5');
    const body = (await json.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toBe(`Cannot look up notebook '${nb.id}' right now; retry shortly`);
    // A browser gets a page that loads the notebook again by itself once the control plane answers.
    const page = await open(`/notebooks/${nb.id}/`, { cookie, accept: 'text/html' });
    expect(page.status).toBe(503);
    const html = await page.text();
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('This page tries again by itself every 5 s.');
    expect(upstream).toEqual([]);
  });

  it('serves from a lookup made minutes ago while the control plane cannot answer', async () => {
    const nb = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    expect((await open(`/notebooks/${nb.id}/tree`, { cookie })).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3 * 60_000 });
    lookupsFail = true;
    expect((await open(`/notebooks/${nb.id}/api/sessions`, { cookie })).status).toBe(200);
    // Past the stated bound (10 minutes) a lookup no longer stands in.
    vi.setSystemTime(Date.now() + 8 * 60_000);
    expect((await open(`/notebooks/${nb.id}/api/sessions`, { cookie })).status).toBe(503);
    expect(upstream.map((u) => u.path)).toEqual([
      `/notebooks/${nb.id}/tree`,
      `/notebooks/${nb.id}/api/sessions`,
    ]);
  });

  it('tells the owner of a starting notebook that it answers once up, and a stopped one how to start it', async () => {
    const nb = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    const record = notebooks.get(nb.id) as { endpoint: string | null; status: string; name?: string };
    const message = async () => {
      const res = await open(`/notebooks/${nb.id}/tree`, { cookie });
      expect(res.status).toBe(503);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    // Named as its owner named it, with what starts it in the tools they have.
    Object.assign(record, { status: 'starting', endpoint: null });
    expect(await message()).toBe(
      "Notebook 'churn-exploration' is starting; it answers here once its server is up",
    );
    Object.assign(record, { status: 'stopped', endpoint: null });
    expect(await message()).toBe(
      "Notebook 'churn-exploration' is stopped; start it (on the dashboard's Notebooks page, or `meridian notebooks start churn-exploration`) and it answers here once its server is up",
    );
    // A control plane from before names were sent: the id and the API call.
    delete record.name;
    expect(await message()).toBe(
      `Notebook '${nb.id}' is stopped; start it (on the dashboard's Notebooks page, or POST /v1/notebooks/${nb.id}/start) and it answers here once its server is up`,
    );
  });

  it('sends a browser on the shared origin to the notebook’s own origin, and sets no cookie there', async () => {
    const nb = await ownedNotebook();
    const own = ownOrigin(`/notebooks/${nb.id}/`);
    const browser = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none' };
    const opened = await open(`/notebooks/${nb.id}/tree?access_token=${nb.token}`, browser, SHARED);
    expect(opened.status).toBe(302);
    expect(opened.headers.get('location')).toBe(`${own}/notebooks/${nb.id}/tree?access_token=${nb.token}`);
    expect(opened.headers.get('set-cookie')).toBeNull();
    // A bookmark of the old address still opens, where the session cookie is.
    const bookmark = await open(`/notebooks/${nb.id}/tree`, { accept: 'text/html' }, 'http://edge.test:8787');
    expect(bookmark.headers.get('location')).toBe(
      `http://nb-${nb.id.slice(3)}.notebooks.localhost:8787/notebooks/${nb.id}/tree`,
    );
    // A session cookie counts on the notebook's origin only.
    const value = sealNotebookSession(SECRET, { notebookId: nb.id, ...nb });
    const cookie = `meridian_notebook_session=${value}`;
    const shared = await app.request(
      `${SHARED}/notebooks/${nb.id}/api/contents`,
      { method: 'POST', headers: { cookie } },
      testEnv(),
    );
    expect(shared.status).toBe(401);
    // A form posting a token there must not show its notebook's page on the shared origin.
    const posted = await app.request(
      `${SHARED}/notebooks/${nb.id}/api/contents?access_token=${nb.token}`,
      { method: 'POST', headers: { ...browser, 'sec-fetch-site': 'cross-site' } },
      testEnv(),
    );
    expect(posted.status).toBe(401);
    // An API client without a credential is told so, not sent to a host it may not resolve.
    expect((await open(`/notebooks/${nb.id}/api/contents`, {}, SHARED)).status).toBe(401);
    expect(upstream).toEqual([]);
    // Clients that carry their token are served there, with no cookie made: Authorization, or the query.
    const bearer = await open(
      `/notebooks/${nb.id}/api/contents`,
      { authorization: `Bearer ${nb.token}` },
      SHARED,
    );
    expect(bearer.status).toBe(200);
    const queried = await open(`/notebooks/${nb.id}/api/contents?access_token=${nb.token}`, {}, SHARED);
    expect(queried.status).toBe(200);
    expect(queried.headers.get('set-cookie')).toBeNull();
    const socket = `/notebooks/${nb.id}/api/kernels/k1/channels?access_token=${nb.token}`;
    expect((await open(socket, { upgrade: 'websocket' }, SHARED)).status).toBe(200);
    expect(upstream.map((u) => u.path)).toEqual([
      `/notebooks/${nb.id}/api/contents`,
      `/notebooks/${nb.id}/api/contents`,
      `/notebooks/${nb.id}/api/kernels/k1/channels`, // the token is the edge's to check, not Jupyter's
    ]);
  });

  it('answers 404, never 500, to a path whose id is no notebook’s, on either origin', async () => {
    const nb = await ownedNotebook();
    const browser = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', accept: 'text/html' };
    for (const path of [
      '/notebooks/foo/tree',
      '/notebooks/NB_ABC/',
      '/notebooks/..%2F..%2Fv2/x',
      '/notebooks/nb_%00/',
    ])
      for (const host of [SHARED, ownOrigin(`/notebooks/${nb.id}/`)]) {
        const res = await open(path, browser, host);
        expect(res.status, `${host}${path}`).toBe(404);
      }
    expect(upstream).toEqual([]);
  });

  it('serves on a notebook’s origin that notebook only, whatever the credential', async () => {
    const nb = await ownedNotebook();
    const other = await ownedNotebook();
    const res = await open(
      `/notebooks/${other.id}/tree`,
      { authorization: `Bearer ${other.token}` },
      ownOrigin(`/notebooks/${nb.id}/`),
    );
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      `This address serves notebook ${nb.id} only`,
    );
    expect(upstream).toEqual([]);
  });

  it('refuses what another origin’s page sends with the cookie, and opens on a top-level navigation', async () => {
    const nb = await ownedNotebook();
    const attacker = await ownedNotebook();
    const cookie = `meridian_notebook_session=${sealNotebookSession(SECRET, { notebookId: nb.id, ...nb })}`;
    const attackerOrigin = ownOrigin(`/notebooks/${attacker.id}/`);
    const refused: Record<string, string>[] = [
      // Another notebook's page is same-site: the cookie goes along with its fetch, its frame and its socket.
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' },
      { origin: attackerOrigin, upgrade: 'websocket' },
      { origin: 'null' },
    ];
    for (const headers of refused) {
      const res = await open(`/notebooks/${nb.id}/api/contents`, { cookie, ...headers });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect(upstream).toEqual([]);
    const fromItsPages = {
      'sec-fetch-site': 'same-origin',
      'sec-fetch-mode': 'cors',
      origin: ownOrigin(`/notebooks/${nb.id}/`),
    };
    expect((await open(`/notebooks/${nb.id}/api/contents`, { cookie, ...fromItsPages })).status).toBe(200);
    const navigation = {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    };
    expect((await open(`/notebooks/${nb.id}/tree`, { cookie, ...navigation })).status).toBe(200);
    expect(upstream).toHaveLength(2);
  });

  it('refuses a cookie whose MAC does not match, or sealed with another secret', () => {
    const session = { notebookId: 'nb_x1', sessionId: 'rtf_0123456789ab', userId: 'usr_1', orgId: 'org_1' };
    const value = sealNotebookSession(SECRET, session);
    expect(openNotebookSession(SECRET, value)).toEqual(session);
    expect(openNotebookSession('another secret', value)).toBeUndefined();
    expect(openNotebookSession(SECRET, value.replace('usr_1', 'usr_2'))).toBeUndefined();
    expect(openNotebookSession(SECRET, `${value.slice(0, -2)}AA`)).toBeUndefined();
    expect(openNotebookSession(SECRET, 'v1.nb_x1')).toBeUndefined();
  });
});
