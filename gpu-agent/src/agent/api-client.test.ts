import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, isRetryable } from './api-client.js';
import { silentLogger } from './logger.js';
import { credentialPath, ensureRegistered, RegistrationError } from './registration.js';
import { UsageMeter } from './usage-meter.js';
import { UsageReporter } from './usage-reporter.js';

// A scripted stand-in for the control plane, to produce failures on demand; the real control plane is
// exercised end to end in test/agent-control-plane.test.ts.
type Answer = { status: number; body: unknown };
let next: Answer[] = [];
const received: { path: string; body: unknown; auth: string | undefined }[] = [];
let server: Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        body: text ? JSON.parse(text) : undefined,
        auth: req.headers.authorization,
      });
      const answer = next.shift() ?? {
        status: 500,
        body: { error: { code: 'internal', message: 'unscripted' } },
      };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'agent-api-'));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const registered = {
  agentId: 'agt_1',
  credential: 'mac_secret',
  heartbeatIntervalSeconds: 15,
  dataPlaneKey: { generation: 1, key: 'ab'.repeat(32) },
};
const host = async () => ({
  hostname: 'h',
  agentVersion: '0.1.0',
  dataPlaneUrl: 'http://127.0.0.1:9090',
  inventory: { gpus: [], cpu: { cores: 1, memoryMiB: 1 }, disk: { freeBytes: 1, totalBytes: 1 } },
  runtimes: ['onnx' as const],
});

describe('ApiClient', () => {
  it('tells no answer, an HTTP error and an answer off the protocol apart', async () => {
    const down = await new ApiClient({ baseUrl: 'http://127.0.0.1:1' }).reportUsage({ seq: 1, entries: [] });
    expect(!down.ok && down.error.kind).toBe('network');
    expect(!down.ok && isRetryable(down.error)).toBe(true);

    const api = new ApiClient({ baseUrl: base, credential: 'mac_x' });
    next = [
      { status: 401, body: { error: { code: 'unauthenticated', message: 'no' } } },
      { status: 200, body: { seq: 'one' } },
      { status: 200, body: { seq: 1, accepted: true, lastSeq: 1 } },
    ];
    const refused = await api.reportUsage({ seq: 1, entries: [] });
    expect(refused).toEqual({
      ok: false,
      error: { kind: 'http', status: 401, code: 'unauthenticated', message: 'no' },
    });
    expect(!refused.ok && isRetryable(refused.error)).toBe(false);
    const odd = await api.reportUsage({ seq: 1, entries: [] });
    expect(!odd.ok && odd.error.kind).toBe('invalid-response');
    expect(await api.reportUsage({ seq: 1, entries: [] })).toEqual({
      ok: true,
      value: { seq: 1, accepted: true, lastSeq: 1 },
    });
    expect(received.at(-1)?.auth).toBe('Bearer mac_x');
  });
});

describe('registration', () => {
  it('registers once, stores the credential 0600, and reuses it without a token after a restart', async () => {
    const dataDir = join(dir, 'reg');
    const opts = {
      api: new ApiClient({ baseUrl: base }),
      dataDir,
      controlPlaneUrl: base,
      describeHost: host,
      log: silentLogger,
      signal: new AbortController().signal,
    };
    next = [
      { status: 503, body: {} },
      { status: 201, body: registered },
    ];
    const first = await ensureRegistered({ ...opts, bootstrapToken: 'mbt_once' });
    expect(first.agentId).toBe('agt_1');
    expect((await stat(credentialPath(dataDir))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(credentialPath(dataDir), 'utf8')).credential).toBe('mac_secret');
    const calls = received.length;
    const again = await ensureRegistered({ ...opts, bootstrapToken: undefined });
    expect(again).toEqual(first);
    expect(received.length).toBe(calls);
  });

  it('fails clearly with no credential and no token, and on a refused token', async () => {
    const opts = {
      api: new ApiClient({ baseUrl: base }),
      dataDir: join(dir, 'none'),
      controlPlaneUrl: base,
      describeHost: host,
      log: silentLogger,
      signal: new AbortController().signal,
    };
    await expect(ensureRegistered({ ...opts, bootstrapToken: undefined })).rejects.toThrow(/bootstrap token/);
    next = [{ status: 401, body: { error: { code: 'unauthenticated', message: 'used' } } }];
    await expect(ensureRegistered({ ...opts, bootstrapToken: 'mbt_used' })).rejects.toBeInstanceOf(
      RegistrationError,
    );
  });
});

describe('UsageReporter', () => {
  it('resends a failed report with the same seq, then moves on to the next seq, across restarts', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const meter = new UsageMeter(() => now);
    const dataDir = join(dir, 'usage');
    const reporter = new UsageReporter(dataDir, meter, silentLogger);
    await reporter.load();
    const api = new ApiClient({ baseUrl: base, credential: 'mac_x' });
    meter.start('w1', 'cpu');
    now += 30_000;
    next = [{ status: 502, body: {} }];
    expect(await reporter.flush(api)).toBe(false);
    const failed = received.at(-1)?.body;
    expect(failed).toEqual({ seq: 1, entries: [expect.objectContaining({ workloadId: 'w1', seconds: 30 })] });

    // A restart in between: the pending report comes back from disk and goes out unchanged.
    const meterAfter = new UsageMeter(() => now);
    const restarted = new UsageReporter(dataDir, meterAfter, silentLogger);
    await restarted.load();
    meterAfter.start('w1', 'cpu');
    next = [{ status: 200, body: { seq: 1, accepted: false, lastSeq: 1 } }];
    expect(await restarted.flush(api)).toBe(true);
    expect(received.at(-1)?.body).toEqual(failed);

    now += 10_000;
    next = [{ status: 200, body: { seq: 2, accepted: true, lastSeq: 2 } }];
    expect(await restarted.flush(api)).toBe(true);
    expect(received.at(-1)?.body).toEqual({ seq: 2, entries: [expect.objectContaining({ seconds: 10 })] });
    expect(await restarted.flush(api)).toBe(true); // nothing accrued: nothing sent
    expect(received.at(-1)?.body).toEqual(expect.objectContaining({ seq: 2 }));
  });
});
