import { describe, expect, inject, it } from 'vitest';
import {
  MemoryTokenStore,
  MeridianClient,
  MeridianError,
  memorySource,
  tokensFrom,
  UnsupportedModelFormatError,
  type UploadCheckpoint,
  uploadModelVersion,
} from '../src/index.js';

describe('uploadModelVersion', () => {
  it.each([0, Number.NaN, 1.5, -1, 17])(
    'refuses concurrency %s before sending anything',
    async (concurrency) => {
      const sent: string[] = [];
      // The fetch only records: nothing may reach a server, so none is needed.
      const client = new MeridianClient({
        baseUrl: 'http://127.0.0.1:9',
        apiKey: 'mk_live_unused',
        fetch: async (input) => {
          sent.push(String(input));
          return new Response(null, { status: 599 });
        },
      });
      const source = memorySource('big.onnx', new Uint8Array(12 * 1024 * 1024));
      await expect(uploadModelVersion(client, { modelId: 'mdl_1', source, concurrency })).rejects.toThrow(
        `concurrency must be a whole number from 1 to 16, not ${concurrency}`,
      );
      expect(sent).toEqual([]);
    },
  );

  it("refuses a file of a format the API refuses before sending a byte, with the API's 415 in its words", async () => {
    const baseUrl = inject('controlPlaneUrl');
    const created = await new MeridianClient({ baseUrl }).request('post', '/v1/auth/register', {
      body: {
        email: `formats-${Date.now()}@example.com`,
        password: 'correct horse battery',
        name: 'Formats',
      },
    });
    const tokens = new MemoryTokenStore(tokensFrom(created));
    const sent: string[] = [];
    const client = new MeridianClient({
      baseUrl,
      tokens,
      fetch: (input, init) => {
        sent.push(`${init?.method ?? 'GET'} ${String(input)}`);
        return fetch(input, init);
      },
    });
    const model = await client.request('post', '/v1/models', { body: { name: 'formats' } });
    const bytes = new TextEncoder().encode('{"weights": [1, 2, 3]}');
    // What the API answers a client that sends the file anyway.
    const answered = await client
      .request('post', '/v1/models/{id}/versions', {
        path: { id: model.id },
        query: { filename: 'x.json' },
        raw: { body: bytes, contentType: 'application/octet-stream' },
      })
      .catch((err: unknown) => err);
    expect(answered).toBeInstanceOf(MeridianError);
    sent.length = 0;

    const refused = await uploadModelVersion(client, {
      modelId: model.id,
      source: memorySource('x.json', bytes),
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnsupportedModelFormatError);
    const { status, code, message } = answered as MeridianError;
    expect(refused).toMatchObject({ status, code, message, requestId: undefined });
    expect([status, code]).toEqual([415, 'unsupported_media_type']);
    expect(sent).toEqual([]);
    const versions = await client.request('get', '/v1/models/{id}/versions', { path: { id: model.id } });
    expect(versions.items).toEqual([]);
  });

  it('resumes only the upload its checkpoint was kept for, not another that took its number since', async () => {
    const baseUrl = inject('controlPlaneUrl');
    const created = await new MeridianClient({ baseUrl }).request('post', '/v1/auth/register', {
      body: { email: `resume-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Resume' },
    });
    const sent: string[] = [];
    const client = new MeridianClient({
      baseUrl,
      tokens: new MemoryTokenStore(tokensFrom(created)),
      fetch: (input, init) => {
        sent.push(`${init?.method ?? 'GET'} ${String(input)}`);
        return fetch(input, init);
      },
    });
    const model = await client.request('post', '/v1/models', { body: { name: 'resumed' } });
    const source = memorySource('big.pt', new Uint8Array(6 * 1024 * 1024));
    // Stopped once the upload exists, before any part is sent, as a push cut off early.
    const stop = new AbortController();
    let checkpoint: UploadCheckpoint | undefined;
    const options = { modelId: model.id, source, partSize: 5 * 1024 * 1024 };
    const first = await uploadModelVersion(client, {
      ...options,
      signal: stop.signal,
      onCheckpoint: (c) => {
        checkpoint = c;
        stop.abort();
      },
    }).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(Error);
    const mine = await client.request('get', '/v1/models/{id}/versions/{version}', {
      path: { id: model.id, version: '1' },
    });
    expect(checkpoint).toMatchObject({ version: 1, versionId: mine.id });
    // The upload is deleted, and another takes its number.
    await client.request('delete', '/v1/models/{id}/versions/{version}', {
      path: { id: model.id, version: 1 },
    });
    const other = await client.request('post', '/v1/models/{id}/versions/uploads', {
      path: { id: model.id },
      body: { filename: 'other.pt', sizeBytes: source.size, partCount: 2 },
    });
    expect(other.version.version).toBe(1);
    sent.length = 0;

    const resumed = uploadModelVersion(client, { ...options, resume: checkpoint as UploadCheckpoint });
    // The API refuses the resume, which names the upload by its id, before it hands out a part URL.
    await expect(resumed).rejects.toMatchObject({
      status: 409,
      message: 'Version 1 of model resumed is another upload now; start the upload again',
    });
    expect(sent.filter((line) => !line.startsWith('GET '))).toEqual([]);
  });

  it('does not complete another upload that took its number while its parts were sent', async () => {
    const baseUrl = inject('controlPlaneUrl');
    const created = await new MeridianClient({ baseUrl }).request('post', '/v1/auth/register', {
      body: { email: `taken-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Taken' },
    });
    const tokens = new MemoryTokenStore(tokensFrom(created));
    const direct = new MeridianClient({ baseUrl, tokens });
    const model = await direct.request('post', '/v1/models', { body: { name: 'taken' } });
    const source = memorySource('big.pt', new Uint8Array(6 * 1024 * 1024));
    let other: { id: string } | undefined;
    // Just before the completion goes out, the upload is deleted and another upload takes its number.
    const client = new MeridianClient({
      baseUrl,
      tokens,
      fetch: async (input, init) => {
        if (init?.method === 'POST' && String(input).endsWith('/versions/1/complete') && !other) {
          await direct.request('delete', '/v1/models/{id}/versions/{version}', {
            path: { id: model.id, version: 1 },
          });
          const started = await direct.request('post', '/v1/models/{id}/versions/uploads', {
            path: { id: model.id },
            body: { filename: 'other.pt', sizeBytes: source.size, partCount: 2 },
          });
          other = started.version;
        }
        return fetch(input, init);
      },
    });

    const uploaded = uploadModelVersion(client, { modelId: model.id, source, partSize: 5 * 1024 * 1024 });
    await expect(uploaded).rejects.toMatchObject({
      status: 409,
      message: 'Version 1 of model taken is another upload now; start the upload again',
    });
    const version = await direct.request('get', '/v1/models/{id}/versions/{version}', {
      path: { id: model.id, version: '1' },
    });
    expect(version).toMatchObject({ id: other?.id, status: 'uploading', fileName: 'other.pt' });
  });
});
