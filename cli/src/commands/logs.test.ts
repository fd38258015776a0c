import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Schema } from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../main-captured.test-helper.js';

type LogPage = Schema<'WorkloadLogs'>;

const line = {
  time: '2026-12-07T10:00:00.000Z',
  seq: 1,
  agentId: 'agt_1',
  stream: 'stdout' as const,
  line: 'loaded',
};

// A fake control plane answers here: the deployment ocr-cls, and the log page each case sets (its agents'
// answers are what the case is about, and a real agent cannot be made to answer 502 on demand).
describe('deployments logs when replicas cannot be read', () => {
  let dir = '';
  let server: Server;
  const saved = { ...process.env };
  let page: LogPage = { lines: [], replicas: [] };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-logs-'));
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const deployment = { id: 'dep_1', name: 'ocr-cls', desiredReplicas: 2 };
      if (url.pathname === '/v1/deployments') return reply(200, { items: [deployment] });
      if (url.pathname === '/v1/deployments/dep_1/logs') return reply(200, page);
      reply(404, { error: { code: 'not_found', message: `no ${req.method} ${url.pathname}` } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.MERIDIAN_CONFIG_DIR = dir;
    process.env.MERIDIAN_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.MERIDIAN_TOKEN = 'mk_test_unused';
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 1 and says why when not one replica could be read, naming each by deployment and version', async () => {
    page = {
      lines: [],
      replicas: [
        { replica: 'wl_a', agentId: 'agt_1', phase: 'ready', version: 1, error: 'its agent answered 502' },
        { replica: 'wl_b', agentId: 'agt_2', phase: 'ended', error: 'its agent cannot be reached' },
      ],
    };
    const { code, stdout, stderr } = await runCaptured(['deployments', 'logs', 'ocr-cls']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      'No log line of ocr-cls could be read: ocr-cls v1 (replica wl_a): its agent answered 502; ' +
        'ocr-cls (replica wl_b): its agent cannot be reached',
    );
  });

  it('prints the lines it could read and names the replica it could not, exiting 0', async () => {
    page = {
      lines: [{ ...line, replica: 'wl_a' }],
      replicas: [
        { replica: 'wl_a', agentId: 'agt_1', phase: 'ready', version: 1 },
        { replica: 'wl_b', agentId: 'agt_2', phase: 'ready', version: 2, error: 'its agent answered 502' },
      ],
    };
    const { code, stdout, stderr } = await runCaptured(['deployments', 'logs', 'ocr-cls']);
    expect(code).toBe(0);
    expect(stderr).toContain('(ocr-cls v2 (replica wl_b): its agent answered 502)');
    expect(stdout).toBe('2026-12-07T10:00:00.000Z wl_a loaded\n');
  });

  it('exits 0 on a deployment with no replica at all: nothing failed', async () => {
    page = { lines: [], replicas: [] };
    const { code } = await runCaptured(['deployments', 'logs', 'ocr-cls']);
    expect(code).toBe(0);
  });
});
