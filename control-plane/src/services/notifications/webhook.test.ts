import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForbiddenAddress } from './address-policy.js';
import { postWebhook, SIGNATURE_HEADER } from './webhook.js';

describe('webhook delivery', () => {
  let server: Server;
  let port = 0;
  const received: { headers: Record<string, unknown>; body: string }[] = [];
  let hang = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        if (!hang) res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('refuses loopback, private, link-local and mapped addresses by default', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
      '100.64.0.1',
    ]) {
      expect(isForbiddenAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '2606:4700::6810:85e5', '8.8.8.8'])
      expect(isForbiddenAddress(a), a).toBe(false);
  });

  it('does not connect to a loopback literal, nor to a name that resolves to one, unless private targets are allowed', async () => {
    const before = received.length;
    const literal = await postWebhook(
      `http://127.0.0.1:${port}/h`,
      's',
      '{}',
      {},
      { allowPrivate: false, timeoutMs: 2_000 },
    );
    expect(literal).toMatchObject({ ok: false, httpStatus: null });
    expect(literal.error).toMatch(/^refused/);
    const named = await postWebhook(
      `http://localhost:${port}/h`,
      's',
      '{}',
      {},
      { allowPrivate: false, timeoutMs: 2_000 },
    );
    expect(named.ok).toBe(false);
    expect(named.error).toMatch(/^refused/);
    expect(received.length).toBe(before);
    const allowed = await postWebhook(
      `http://localhost:${port}/h`,
      's',
      '{"a":1}',
      {},
      { allowPrivate: true, timeoutMs: 2_000 },
    );
    expect(allowed).toEqual({ ok: true, httpStatus: 200, error: null });
  });

  it('signs HMAC-SHA256 over "<timestamp>.<body>" in the documented header', async () => {
    const body = '{"type":"test"}';
    await postWebhook(
      `http://127.0.0.1:${port}/h`,
      'whsec_x',
      body,
      {},
      { allowPrivate: true, timeoutMs: 2_000 },
    );
    const last = received.at(-1);
    const header = String(last?.headers[SIGNATURE_HEADER]);
    const [, t, v1] = header.match(/^t=(\d+),v1=([0-9a-f]{64})$/) ?? [];
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(5);
    expect(v1).toBe(createHmac('sha256', 'whsec_x').update(`${t}.${body}`).digest('hex'));
    expect(last?.body).toBe(body);
  });

  it('gives up on a target that never answers after the timeout', async () => {
    hang = true;
    const started = Date.now();
    const result = await postWebhook(
      `http://127.0.0.1:${port}/h`,
      's',
      '{}',
      {},
      { allowPrivate: true, timeoutMs: 300 },
    );
    hang = false;
    expect(result).toMatchObject({ ok: false, httpStatus: null });
    expect(result.error).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
