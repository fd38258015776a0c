import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, readReply, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('files', () => {
  let t: TestApp;
  let owner: Session;
  let stranger: Session;
  const upload = async (token: string, body: string, query = 'filename=in.jsonl', app = t.app) =>
    readReply(
      await app.request(`/v1/files?${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body,
      }),
    );
  const call = (method: string, path: string, token = owner.accessToken) =>
    t.client.call(method, path, { token });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    stranger = await t.client.register('stranger');
  });
  afterAll(() => t.cleanup());

  it('stores an upload and lists, shows, serves and deletes it', async () => {
    const text = '{"custom_id":"a"}\n{"custom_id":"b"}\n';
    const created = await upload(owner.accessToken, text);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      object: 'file',
      purpose: 'batch',
      filename: 'in.jsonl',
      bytes: text.length,
    });
    const days = (Date.parse(created.json.expiresAt) - Date.parse(created.json.createdAt)) / 86_400_000;
    expect(days).toBeCloseTo(30, 3);
    const id = created.json.id as string;
    expect((await call('GET', '/v1/files')).json.items.map((f: { id: string }) => f.id)).toContain(id);
    expect((await call('GET', `/v1/files/${id}`)).json.id).toBe(id);
    const content = await call('GET', `/v1/files/${id}/content`);
    expect(content.status).toBe(200);
    expect(content.text).toBe(text);
    const url = await call('GET', `/v1/files/${id}/download-url?expiresIn=60`);
    expect(url.status).toBe(200);
    expect(url.json.url).toMatch(/^http/);
    expect((await call('DELETE', `/v1/files/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/files/${id}`)).status).toBe(404);
    expect(await t.client.auditNames(owner.accessToken, 'file.delete', id)).toEqual(['in.jsonl']);
  });

  it("answers 404 for another org's file, on every route", async () => {
    const created = await upload(owner.accessToken, '{}\n');
    const id = created.json.id as string;
    for (const [method, path] of [
      ['GET', `/v1/files/${id}`],
      ['GET', `/v1/files/${id}/content`],
      ['GET', `/v1/files/${id}/download-url`],
      ['DELETE', `/v1/files/${id}`],
    ] as const)
      expect((await call(method, path, stranger.accessToken)).status).toBe(404);
    expect((await call('GET', '/v1/files', stranger.accessToken)).json.items).toEqual([]);
  });

  it('refuses a key without a predict scope (403) and takes one with predict:<deployment>', async () => {
    const narrow = await t.client.createKey(owner, { scopes: ['models:read'] });
    expect((await upload(narrow.secret, '{}\n')).status).toBe(403);
    const predict = await t.client.createKey(owner, { scopes: ['predict:some-deployment'] });
    expect((await upload(predict.secret, '{}\n')).status).toBe(201);
  });

  it('stops an upload past the configured size with 413 while it streams, and keeps nothing', async () => {
    const small = t.anotherInstance({ batch: { maxFileBytes: 1000 } });
    let sent = 0;
    // 5 MB offered in 64 KiB chunks with no declared length: only the stream can tell it is too large.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 5_000_000) return controller.close();
        sent += 65_536;
        controller.enqueue(new Uint8Array(65_536).fill(0x61));
      },
    });
    const before = (await call('GET', '/v1/files')).json.items.length;
    const res = await readReply(
      await small.request('/v1/files?filename=big.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect(sent).toBeLessThan(5_000_000);
    expect((await call('GET', '/v1/files')).json.items.length).toBe(before);
  });

  it('refuses a filename with a slash and an unknown purpose (400)', async () => {
    expect((await upload(owner.accessToken, '{}', 'filename=a/b.jsonl')).status).toBe(400);
    expect((await upload(owner.accessToken, '{}', 'filename=a.jsonl&purpose=fine-tune')).status).toBe(400);
  });
});
