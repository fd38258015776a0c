import { describe, expect, inject, it } from 'vitest';
import {
  collect,
  decodeResponse,
  encodeBinary,
  encodeNpy,
  MemoryTokenStore,
  MeridianClient,
  NotFoundError,
  parseNpy,
  tokensFrom,
} from '../src/index.js';

describe('the SDK core inside workerd', () => {
  const baseUrl = inject('controlPlaneUrl');

  it('runs in the Workers runtime', () => {
    const { navigator } = globalThis as { navigator?: { userAgent?: string } };
    expect(navigator?.userAgent).toBe('Cloudflare-Workers');
  });

  it('registers, pages through a list, and answers typed errors with their request id', async () => {
    const anonymous = new MeridianClient({ baseUrl });
    const created = await anonymous.request('post', '/v1/auth/register', {
      body: { email: `worker-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Worker' },
    });
    const client = new MeridianClient({ baseUrl, tokens: new MemoryTokenStore(tokensFrom(created)) });
    for (const name of ['a', 'b', 'c']) await client.request('post', '/v1/experiments', { body: { name } });
    const names = (await collect(client.list('/v1/experiments', { query: { limit: 2 } }))).map((e) => e.name);
    expect(names.sort()).toEqual(['a', 'b', 'c']);
    const missing = await client
      .request('get', '/v1/models/{id}', { path: { id: 'mdl_00000000000000000000000000' } })
      .catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).code).toBe('not_found');
    expect((missing as NotFoundError).requestId).toMatch(/.+/);
  });

  it('reads back the .npy files it writes, and lays out binary OIP as header then little-endian bytes', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0, 7, 8]);
    const tensor = parseNpy(encodeNpy({ name: 'x', datatype: 'FP32', shape: [2, 3], data }), 'x');
    expect(tensor).toMatchObject({ name: 'x', datatype: 'FP32', shape: [2, 3] });
    expect([...(tensor.data as Float32Array)]).toEqual([...data]);
    const { body, headers } = encodeBinary([{ name: 'x', datatype: 'FP32', shape: [2, 3], data }]);
    const headerLength = Number(headers['inference-header-content-length']);
    const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
    expect(header.inputs[0].parameters.binary_data_size).toBe(24);
    expect([...new Float32Array(body.slice(headerLength).buffer)]).toEqual([...data]);
    // An answer in the same layout decodes to plain numbers.
    const answer = decodeResponse(
      new Uint8Array([
        ...new TextEncoder().encode(JSON.stringify({ outputs: header.inputs })),
        ...body.subarray(headerLength),
      ]),
      String(new TextEncoder().encode(JSON.stringify({ outputs: header.inputs })).byteLength),
    );
    expect(answer.outputs[0]?.data).toEqual([...data]);
  });
});
