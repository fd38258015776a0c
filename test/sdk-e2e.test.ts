import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ConflictError,
  collect,
  DEFAULT_PART_SIZE,
  ForbiddenError,
  LoginEndedError,
  MeridianClient,
  memorySource,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  type Tokens,
  UnauthenticatedError,
  UnprocessableError,
  type UploadCheckpoint,
  type UploadProgress,
  uploadModelVersion,
} from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSdkUser, SDK_USER_PASSWORD, startProxiedControlPlane } from './helpers/sdk-users.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MB = 1024 * 1024;
const run = promisify(execFile);

/**
 * The SDK against a real control plane process, reached through a TCP proxy (the control plane's public
 * URL, so presigned part URLs go through it too) that can cut connections mid-upload.
 */
describe('the SDK against the control plane', () => {
  let platform: Awaited<ReturnType<typeof startProxiedControlPlane>>;
  let dir = '';
  let proxy: (typeof platform)['proxy'];
  const PASSWORD = SDK_USER_PASSWORD;
  const newUser = (name: string) => newSdkUser(proxy.url, name);

  beforeAll(async () => {
    platform = await startProxiedControlPlane('sdk-e2e-', { MERIDIAN_ACCESS_TOKEN_TTL_SECONDS: '1' });
    ({ dir, proxy } = platform);
  }, 150_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('renews an expired login by itself, once for many concurrent calls', async () => {
    const { client, store, calls } = await newUser('refresh');
    const first = (await store.load()) as Tokens;
    // Past its 1 s lifetime and the server's 5 s clock tolerance.
    await new Promise((r) => setTimeout(r, 6_500));
    // The token has expired; the store still claims it is fresh, so the server's 401 is what tells.
    await store.save({ ...first, refreshAt: Date.now() + 60_000, expiresAt: Date.now() + 60_000 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.request('get', '/v1/auth/me')));
    expect(answers.every((me) => me.user !== undefined)).toBe(true);
    expect(calls.filter((c) => c === 'POST /v1/auth/refresh')).toHaveLength(1);
    const second = (await store.load()) as Tokens;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    // Known to be past its refresh time: renewed before sending, with no 401 first.
    await store.save({ ...second, refreshAt: 0 });
    const before = calls.length;
    await client.request('get', '/v1/auth/me');
    expect(calls.slice(before)).toEqual(['POST /v1/auth/refresh', 'GET /v1/auth/me']);
  }, 30_000);

  it('throws LoginEndedError, still an UnauthenticatedError, when the server no longer renews the login', async () => {
    const { client, store } = await newUser('ended');
    const tokens = (await store.load()) as Tokens;
    await client.request('post', '/v1/auth/logout', { body: { refreshToken: tokens.refreshToken } });
    await store.save({ ...tokens, refreshAt: 0, expiresAt: 0 });
    const error = await client.request('get', '/v1/auth/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoginEndedError);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ name: 'LoginEndedError', status: 401, code: 'unauthenticated' });
  });

  it('hands out a login for a notebook link only while it stays valid long enough, and never an API key', async () => {
    const { client, store, calls } = await newUser('link');
    const first = (await store.load()) as Tokens;
    // Valid for as long as asked: sent as it is, nothing renewed.
    await store.save({ ...first, expiresAt: Date.now() + 120_000 });
    expect(await client.linkToken(60_000)).toEqual({
      token: first.accessToken,
      expiresAt: expect.any(Number),
    });
    expect(calls).not.toContain('POST /v1/auth/refresh');
    // Ending sooner than asked (this server's tokens live 1 s): renewed first, and the new one is good.
    await store.save({ ...first, expiresAt: Date.now() + 30_000 });
    const renewed = await client.linkToken(60_000);
    expect(calls.filter((c) => c === 'POST /v1/auth/refresh')).toHaveLength(1);
    expect(renewed?.token).not.toBe(first.accessToken);
    expect(renewed?.expiresAt).toBe(((await store.load()) as Tokens).expiresAt);
    const me = await fetch(`${proxy.url}/v1/auth/me`, {
      headers: { authorization: `Bearer ${renewed?.token}` },
    });
    expect(me.status).toBe(200);
    // A fixed access token goes as it is, with the expiry it carries; an API key never goes into a link.
    const fixed = new MeridianClient({ baseUrl: proxy.url, apiKey: renewed?.token ?? '' });
    const claims = JSON.parse(
      Buffer.from((renewed?.token ?? '').split('.')[1] ?? '', 'base64url').toString(),
    );
    expect(await fixed.linkToken(60_000)).toEqual({ token: renewed?.token, expiresAt: claims.exp * 1000 });
    const key = new MeridianClient({ baseUrl: proxy.url, apiKey: 'mk_live_0123456789abcdef' });
    expect(await key.linkToken(60_000)).toBeUndefined();
  }, 30_000);

  it('pages through 250 items as one async iterator', async () => {
    const { client, calls } = await newUser('pages');
    const names = Array.from({ length: 250 }, (_, i) => `exp-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((name) => client.request('post', '/v1/experiments', { body: { name } })),
      );
    }
    const before = calls.length;
    const listed = await collect(client.list('/v1/experiments', { query: { limit: 100 } }));
    expect(listed.map((e) => e.name).sort()).toEqual(names);
    expect(calls.slice(before).filter((c) => c === 'GET /v1/experiments')).toHaveLength(3);
  }, 120_000);

  it('uploads 100 MB with progress to 100%, and resumes after the connection is cut at 40%', async () => {
    const { client, calls } = await newUser('upload');
    const model = await client.request('post', '/v1/models', { body: { name: 'big' } });
    const bytes = randomBytes(100 * MB);
    const source = memorySource('model.pt', bytes);
    let checkpoint: UploadCheckpoint | undefined;
    const firstProgress: UploadProgress[] = [];
    proxy.cutAfter(40 * MB);
    const cut = await uploadModelVersion(client, {
      modelId: model.id,
      source,
      onCheckpoint: (c) => {
        checkpoint = c;
      },
      onProgress: (p) => firstProgress.push(p),
    }).catch((err: unknown) => err);
    expect(cut).toBeInstanceOf(NetworkError);
    expect(checkpoint).toBeDefined();
    const reached = firstProgress.at(-1)?.doneBytes ?? 0;
    expect(reached).toBeGreaterThan(0);
    expect(reached).toBeLessThan(45 * MB);

    await proxy.restore();
    const sentBefore = proxy.sent();
    const callsBefore = calls.length;
    const progress: UploadProgress[] = [];
    const version = await uploadModelVersion(client, {
      modelId: model.id,
      source,
      ...(checkpoint ? { resume: checkpoint } : {}),
      onProgress: (p) => progress.push(p),
    });
    const resent = proxy.sent() - sentBefore;
    const resumed = progress[0]?.resumedBytes ?? 0;
    const partCalls = calls.slice(callsBefore).filter((c) => /\/parts\/\d+$/.test(c));
    const partsSent = new Set(partCalls.filter((c) => c.startsWith('PUT ')).map((c) => c.split('/').at(-1)));
    // A part whose connection broke is sent once more; those bytes crossed the network twice.
    const broken = partCalls.filter((c) => c.startsWith('failed ')).length;
    console.info(
      `resumed with ${resumed / MB} MB stored; sent ${(resent / MB).toFixed(1)} MB more` +
        (broken ? ` (${broken} part${broken > 1 ? 's' : ''} sent again after a broken connection)` : ''),
    );
    expect(resumed).toBeGreaterThanOrEqual(16 * MB);
    expect(progress.at(-1)).toMatchObject({ doneBytes: 100 * MB, totalBytes: 100 * MB });
    // Only the parts storage lacked crossed the network again (plus headers and the JSON calls).
    expect(partsSent.size * DEFAULT_PART_SIZE).toBeGreaterThanOrEqual(100 * MB - resumed);
    expect((partsSent.size - 1) * DEFAULT_PART_SIZE).toBeLessThan(100 * MB - resumed);
    expect(resent).toBeLessThan(100 * MB - resumed + broken * 8 * MB + MB);
    expect(version.status).toBe('ready');
    expect(version.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  }, 180_000);

  it('throws typed errors carrying the code, message and request id', async () => {
    const { client, email } = await newUser('errors');
    const bogus = new MeridianClient({ baseUrl: proxy.url, apiKey: 'mk_live_not_a_real_key_000000000000' });
    const e401 = await bogus.request('get', '/v1/models').catch((e: unknown) => e);
    expect(e401).toBeInstanceOf(UnauthenticatedError);
    expect(e401).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect((e401 as UnauthenticatedError).requestId).toMatch(/^req_/);

    const e404 = await client
      .request('get', '/v1/models/{id}', { path: { id: 'mdl_00000000000000000000000000' } })
      .catch((e: unknown) => e);
    expect(e404).toMatchObject({ status: 404, code: 'not_found' });
    expect(e404).toBeInstanceOf(NotFoundError);

    const model = await client.request('post', '/v1/models', { body: { name: 'only' } });
    const e409 = await client
      .request('post', '/v1/models', { body: { name: 'only' } })
      .catch((e: unknown) => e);
    expect(e409).toBeInstanceOf(ConflictError);
    // The Free plan holds one model.
    const e403 = await client
      .request('post', '/v1/models', { body: { name: 'second' } })
      .catch((e: unknown) => e);
    expect(e403).toBeInstanceOf(ForbiddenError);
    expect((e403 as ForbiddenError).message).toMatch(/.+/);

    const e413 = await client
      .request('post', '/v1/experiments', { body: { name: 'big', description: 'x'.repeat(2 * MB) } })
      .catch((e: unknown) => e);
    expect(e413).toBeInstanceOf(PayloadTooLargeError);

    const junk = memorySource('model.onnx', new TextEncoder().encode('not an onnx model'));
    const e422 = await uploadModelVersion(client, { modelId: model.id, source: junk }).catch(
      (e: unknown) => e,
    );
    expect(e422).toBeInstanceOf(UnprocessableError);
    expect(e422).toMatchObject({ status: 422, code: 'unprocessable' });

    const anonymous = new MeridianClient({ baseUrl: proxy.url });
    let e429: unknown;
    for (let i = 0; i < 12 && !(e429 instanceof RateLimitedError); i++) {
      e429 = await anonymous.login(email, 'wrong password!').catch((e: unknown) => e);
    }
    expect(e429).toBeInstanceOf(RateLimitedError);
    expect((e429 as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
  }, 60_000);

  it('names a base URL without a scheme as it was given when it cannot be reached, not as "null"', async () => {
    // `localhost:8080` parses as a URL whose scheme is `localhost:`: its origin is the string "null".
    const client = new MeridianClient({ baseUrl: 'localhost:8080', apiKey: 'mk_test_unused' });
    const error = await client.request('get', '/v1/auth/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ url: 'localhost:8080/v1/auth/me' });
    expect((error as NetworkError).message).toMatch(/^Could not reach localhost:8080\/v1\/auth\/me: /);
    const unparsable = new MeridianClient({ baseUrl: 'http://[::1', apiKey: 'mk_test_unused' });
    expect(await unparsable.request('get', '/v1/auth/me').catch((e: unknown) => e)).toMatchObject({
      name: 'NetworkError',
      url: 'http://[::1/v1/auth/me',
    });
  });

  it('works installed from `npm pack` into an empty project', async () => {
    const { stdout: built } = await run(process.execPath, ['sdk/scripts/build-package.mjs'], {
      cwd: REPO_ROOT,
    });
    const project = join(dir, 'consumer');
    await mkdir(project);
    await run('npm', ['pack', built.trim(), '--pack-destination', project], { cwd: project });
    const tarball = (await readdir(project)).find((f) => f.endsWith('.tgz'));
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await run('npm', ['install', `./${tarball}`, '--offline', '--no-audit', '--no-fund'], { cwd: project });
    const { email } = await newUser('packed');
    await writeFile(
      join(project, 'main.js'),
      `import { MeridianClient, MemoryTokenStore, NotFoundError, collect, parseNpy, encodeNpy } from '@meridian/sdk';
import { fileSource } from '@meridian/sdk/node';
const client = new MeridianClient({ baseUrl: process.argv[2], tokens: new MemoryTokenStore() });
await client.login(process.argv[3], process.argv[4]);
const me = await client.request('get', '/v1/auth/me');
await client.request('post', '/v1/experiments', { body: { name: 'from-the-tarball' } });
const experiments = await collect(client.list('/v1/experiments'));
const missing = await client.request('get', '/v1/models/{id}', { path: { id: 'mdl_00000000000000000000000000' } }).catch((e) => e);
const tensor = parseNpy(encodeNpy({ name: 'x', datatype: 'FP32', shape: [2], data: [1, 2] }), 'x');
const source = await fileSource(new URL('package.json', import.meta.url).pathname);
console.log(JSON.stringify({ email: me.user.email, experiments: experiments.map((e) => e.name), notFound: missing instanceof NotFoundError, data: [...tensor.data], size: source.size > 0 }));
`,
    );
    const { stdout } = await run(process.execPath, ['main.js', proxy.url, email, PASSWORD], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      email,
      experiments: ['from-the-tarball'],
      notFound: true,
      data: [1, 2],
      size: true,
    });
  }, 120_000);
});
