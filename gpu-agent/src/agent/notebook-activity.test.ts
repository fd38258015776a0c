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
let kernelState = 'idle';
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (hang) return; // never answers
    const url = new URL(req.url ?? '/', 'http://x');
    // The agent's reads must not count as activity themselves.
    if (url.searchParams.get('no_track_activity') !== '1') return void res.writeHead(400).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.pathname === '/notebooks/nb_x/api/kernels')
      return void res.end(JSON.stringify([{ id: 'k1', execution_state: kernelState }]));
    if (url.pathname !== '/notebooks/nb_x/api/status') return void res.writeHead(404).end();
    res.end(JSON.stringify({ last_activity: '2026-01-02T03:04:05.678901Z', connections: 0, kernels: 1 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notebooks/nb_x/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('NotebookActivity', () => {
  it('counts a kernel busy on a long cell as active now, and keeps that once the cell ends', async () => {
    // Nothing hangs here: a timeout that a loaded CI machine's loopback round trip cannot reach.
    const activity = new NotebookActivity({ endpoint, token: TOKEN, refreshMs: 0, timeoutMs: 5_000 });
    await activity.refresh();
    expect(activity.lastActivityAt).toBe('2026-01-02T03:04:05.678Z');
    kernelState = 'busy';
    const before = Date.now();
    await activity.refresh();
    expect(Date.parse(activity.lastActivityAt ?? '')).toBeGreaterThanOrEqual(before - 1);
    const busyAt = activity.lastActivityAt;
    kernelState = 'idle';
    await activity.refresh();
    // Jupyter's own record is older than the busy read: the later of the two stands.
    expect(activity.lastActivityAt).toBe(busyAt);
  });

  it('reads last_activity with the token and keeps answering at once while the notebook hangs', async () => {
    // Long enough for the first, healthy read on a loaded machine; short enough to show the hung one given up.
    const activity = new NotebookActivity({ endpoint, token: TOKEN, refreshMs: 0, timeoutMs: 1_000 });
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
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(activity.lastActivityAt).toBe('2026-01-02T03:04:05.678Z');
  });
});
