import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

/**
 * Over a real socket with Node's fetch (undici, keep-alive by default), as users call: an answer given before
 * the body was read must leave the connection usable for the next call.
 */
describe('a request answered before its body was read', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let server: ReturnType<typeof serve>;
  let base = '';
  let token = '';
  beforeAll(async () => {
    t = await createTestApp();
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    token = (await t.client.register('owner')).accessToken;
  });
  afterAll(() => {
    server.close();
    t.cleanup();
  });

  /** The status, or the error's code when no answer came. */
  const call = async (method: string, path: string, body?: string | Uint8Array) => {
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      return String((error as { cause?: { code?: string } }).cause?.code ?? error);
    }
  };

  it('answers 413 by Content-Length, and the next calls on the pool are answered', async () => {
    for (const extra of [100, 1000]) {
      const body = JSON.stringify({ name: 'x', description: 'a'.repeat(1024 * 1024 + extra) });
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        const statuses = [
          await call('POST', '/v1/experiments', body),
          await call('GET', '/v1/experiments?limit=1'),
          await call('GET', '/v1/experiments?limit=1'),
        ];
        seen.push(statuses.join('/'));
      }
      expect(seen).toEqual(Array(5).fill('413/200/200'));
    }
  });
});
