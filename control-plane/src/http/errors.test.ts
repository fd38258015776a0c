import { describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

describe('an unexpected failure', () => {
  it('answers a generic 500 with the request id, and logs the detail under that id', async () => {
    const t = await createTestApp();
    const owner = await t.client.register('owner');
    // The database goes away under a running app: every query now throws a driver error.
    t.cleanup();
    const res = await t.client.call('GET', '/v1/org', { token: owner.accessToken });
    expect(res.status).toBe(500);
    const requestId = res.headers.get('x-request-id');
    expect(res.json).toEqual({ error: { code: 'internal', message: 'Internal error', requestId } });
    const logged = t.logLines.find(
      (line) => line.includes('unhandled error') && line.includes(String(requestId)),
    );
    expect(logged).toBeDefined();
    expect(res.text).not.toMatch(/sqlite|libsql|stack|\.ts/i);
  });
});
