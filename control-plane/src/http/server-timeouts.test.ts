import { once } from 'node:events';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { applyServerTimeouts } from './server-timeouts.js';

/** POSTs `chunks` pieces of 1 KiB, one every `gapMs`; answers the status and body the server gave. */
function slowUpload(port: number, chunks: number, gapMs: number) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': String(chunks * 1024) } },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    void (async () => {
      for (let i = 0; i < chunks && !req.destroyed; i++) {
        req.write(Buffer.alloc(1024, 1));
        await new Promise((r) => setTimeout(r, gapMs));
      }
      req.end();
    })();
  });
}

const countBytes = new Hono().post('/', async (c) => c.text(String((await c.req.arrayBuffer()).byteLength)));

describe('server timeouts', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
  });

  async function listen(serverOptions: object) {
    server = serve({ fetch: countBytes.fetch, hostname: '127.0.0.1', port: 0, serverOptions }) as Server;
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  it('raises Node’s 5-minute cap on receiving a request to an hour, so a long upload is not cut with 408', async () => {
    await listen({});
    expect(server?.requestTimeout).toBe(300_000);
    if (server) applyServerTimeouts(server);
    expect(server?.requestTimeout).toBe(3_600_000);
    // Headers must still arrive within a bound; an idle kept-alive connection outlives a pool's minute.
    expect(server?.headersTimeout).toBe(66_000);
    expect(server?.keepAliveTimeout).toBe(65_000);
  });

  it('(the cap, scaled to 1 s: an upload still streaming after it is answered 408)', async () => {
    const port = await listen({
      requestTimeout: 1000,
      headersTimeout: 200,
      connectionsCheckingInterval: 100,
    });
    expect((await slowUpload(port, 8, 250)).status).toBe(408);
    server?.close();
    // The same upload under a cap it fits in (an hour, scaled) arrives whole.
    const uncapped = await listen({
      requestTimeout: 10_000,
      headersTimeout: 200,
      connectionsCheckingInterval: 100,
    });
    expect(await slowUpload(uncapped, 8, 250)).toEqual({ status: 200, body: String(8 * 1024) });
  });
});
