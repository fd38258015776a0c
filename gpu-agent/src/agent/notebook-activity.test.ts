import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotebookActivity } from './notebook-activity.js';

// The real Jupyter server's answer is checked in supervised-runtime.test.ts. Here a loopback stand-in
// answers like its `/api/status` and then hangs, which a healthy Jupyter cannot be made to do on cue.
const TOKEN = 'n'.repeat(32);
let server: Server;
let endpoint = '';
let hang = false;
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (hang) return; // never answers
    if (req.url !== '/notebooks/nb_x/api/status') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ last_activity: '2026-01-02T03:04:05.678901Z', connections: 0, kernels: 0 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notebooks/nb_x/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('NotebookActivity', () => {
  it('reads last_activity with the token and keeps answering at once while the notebook hangs', async () => {
    const activity = new NotebookActivity({ endpoint, token: TOKEN, refreshMs: 0, timeoutMs: 200 });
    expect(activity.lastActivityAt).toBeUndefined(); // nothing read yet; this read starts the first one
    await activity.refresh();
    expect(activity.lastActivityAt).toBe('2026-01-02T03:04:05.678Z');
    expect(seen[0]).toBe(`token ${TOKEN}`);

    hang = true;
    const started = performance.now();
    expect(activity.lastActivityAt).toBe('2026-01-02T03:04:05.678Z');
    expect(performance.now() - started).toBeLessThan(20);
    // The background read gives up after its timeout and the last value stays.
    await activity.refresh();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(activity.lastActivityAt).toBe('2026-01-02T03:04:05.678Z');
  });
});
