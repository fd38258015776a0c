import { describe, expect, inject, it } from 'vitest';
import { collect, MemoryTokenStore, MeridianClient, NotFoundError, tokensFrom } from '../src/index.js';

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
});
