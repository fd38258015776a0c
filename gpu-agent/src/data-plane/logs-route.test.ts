import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LogLine, WorkloadLogs } from '../agent/workload-logs.js';
import { createDataPlaneListener } from './listener.js';
import { staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

const KEY = new TextEncoder().encode('l'.repeat(32));
let dir: string;
let logs: WorkloadLogs;
let subscribed = 0;
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logs-route-'));
  logs = new WorkloadLogs(dir);
  for (let i = 1; i <= 5; i++) logs.append('wl_a', 'agent', `line ${i}`);
  logs.append('wl_b', 'agent', 'another workload');
  // The real store, counting who listens: a follow that ended must leave no listener behind.
  const reader = {
    read: logs.read.bind(logs),
    holds: logs.holds.bind(logs),
    subscribe: (id: string, listener: (l: LogLine) => void) => {
      subscribed += 1;
      const leave = logs.subscribe(id, listener);
      return () => {
        subscribed -= 1;
        leave();
      };
    },
  };
  server = await listen(
    createDataPlaneListener({ models: staticRegistry([]), signingKey: () => KEY, workloadLogs: reader }),
  );
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const signed = (target: string, deploymentId = 'wl_a', init: RequestInit = {}) =>
  fetch(server.url + target, { ...init, headers: edgeHeaders(KEY, { method: 'GET', target, deploymentId }) });

describe('the agent’s logs route', () => {
  it('answers a signed read with the workload’s last lines', async () => {
    const res = await signed('/agent/v1/workloads/wl_a/logs?tail=2');
    expect(res.status).toBe(200);
    const { lines } = (await res.json()) as { lines: LogLine[] };
    expect(lines.map((l) => [l.seq, l.line])).toEqual([
      [4, 'line 4'],
      [5, 'line 5'],
    ]);
    const since = (await (await signed('/agent/v1/workloads/wl_a/logs?since_seq=3')).json()) as {
      lines: LogLine[];
    };
    expect(since.lines.map((l) => l.seq)).toEqual([4, 5]);
  });

  it('answers 404 to a read of a workload none of whose lines it holds', async () => {
    const res = await signed('/agent/v1/workloads/wl_gone/logs', 'wl_gone');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no lines of this workload are held here' });
  });

  it('refuses an unsigned read, and a signature made for another workload', async () => {
    expect((await fetch(`${server.url}/agent/v1/workloads/wl_a/logs`)).status).toBe(401);
    const other = await signed('/agent/v1/workloads/wl_a/logs', 'wl_b');
    expect(other.status).toBe(403);
    expect(JSON.stringify(await other.json())).not.toContain('line');
  });

  it.each([
    ['tail=-1', 'tail'],
    ['tail=10001', 'tail'],
    ['since_seq=x', 'since_seq'],
    ['since_ms=1.5', 'since_ms'],
    ['follow=yes', 'follow'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const res = await signed(`/agent/v1/workloads/wl_a/logs?${query}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ field });
  });

  it('follows: the backlog, then each new line, and stops listening when the caller goes', async () => {
    const stop = new AbortController();
    const res = await signed('/agent/v1/workloads/wl_a/logs?follow=true&tail=1', 'wl_a', {
      signal: stop.signal,
    });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += decoder.decode((await reader.read()).value, { stream: true });
    };
    await until(/line 5/);
    expect(subscribed).toBe(1);
    logs.append('wl_a', 'stdout', 'written now');
    await until(/written now/);
    const sent = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);
    expect(sent.map((l) => l.line)).toEqual(['line 5', 'written now']);
    stop.abort();
    await expect.poll(() => subscribed, { timeout: 5_000 }).toBe(0);
  });
});
