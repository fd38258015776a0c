import { exports } from 'cloudflare:workers';
import { ErrorEnvelope } from '@meridian/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEdgeApp } from '../src/app.js';

// Requests go through the Worker's real fetch handler, inside workerd.
function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`https://edge.test${path}`, { headers });
}

describe('GET /health', () => {
  it('answers 200 with {"status":"ok"}', async () => {
    const res = await get('/health');

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});

describe('unknown routes', () => {
  it('answers 404 with the error envelope carrying the response request id', async () => {
    const res = await get('/no-such-route');

    expect(res.status).toBe(404);
    const body = ErrorEnvelope.parse(await res.json());
    expect(body.error.code).toBe('not_found');
    expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
    expect(body.error.requestId).not.toBe('');
  });
});

describe('x-request-id', () => {
  it('echoes a valid caller-supplied id', async () => {
    const res = await get('/health', { 'x-request-id': 'client.req-42_A' });

    expect(res.headers.get('x-request-id')).toBe('client.req-42_A');
  });

  it('replaces an id longer than 128 characters', async () => {
    const res = await get('/nowhere', { 'x-request-id': 'a'.repeat(500) });

    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ErrorEnvelope.parse(await res.json()).error.requestId).toBe(id);
  });

  it('replaces an id with characters outside [A-Za-z0-9._-]', async () => {
    const res = await get('/health', { 'x-request-id': 'abc def<script>' });

    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('mints a fresh id for each request without one', async () => {
    const [a, b] = await Promise.all([get('/health'), get('/health')]);

    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });
});

describe('unexpected errors', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers 500 internal without leaking the error message', async () => {
    // A throwing route is added to a fresh app: no production route fails on purpose.
    const app = createEdgeApp();
    app.get('/boom', () => {
      throw new Error('database password is hunter2');
    });

    const logError = vi.spyOn(console, 'error').mockImplementation(() => {});

    const res = await app.request('/boom', { headers: { 'x-request-id': 'boom-1' } });

    expect(res.status).toBe(500);
    expect(res.headers.get('x-request-id')).toBe('boom-1');
    expect(await res.json()).toEqual({
      error: { code: 'internal', message: 'Internal error', requestId: 'boom-1' },
    });
    // The operator still sees the cause, tied to the same request id.
    expect(logError).toHaveBeenCalledWith(expect.stringContaining('"requestId":"boom-1"'));
  });
});
