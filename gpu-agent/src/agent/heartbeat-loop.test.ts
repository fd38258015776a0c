import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentHeartbeat, HostInventory } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { silentLogger } from './logger.js';

// A scripted stand-in for the control plane's heartbeat route, recording when each heartbeat arrived; the
// real route is exercised end to end in test/agent-control-plane.test.ts.
let server: Server;
let api: ApiClient;
const arrived: { at: number; body: AgentHeartbeat }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    req.on('end', () => {
      arrived.push({ at: Date.now(), body: JSON.parse(text) as AgentHeartbeat });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ heartbeatIntervalSeconds: 60, desiredStateVersion: 1 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = new ApiClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const inventory: HostInventory = {
  gpus: [],
  cpu: { cores: 2, memoryMiB: 2048 },
  disk: { freeBytes: 1 << 30, totalBytes: 1 << 31 },
};

describe('HeartbeatLoop', () => {
  it('sends a poked heartbeat at once with the inventory it measured last, not a new measure', async () => {
    let measured = 0;
    let phase: 'pulling' | 'ready' = 'pulling';
    const loop = new HeartbeatLoop({
      api,
      // A slow measure, as nvidia-smi and disk statistics can be.
      inventory: async () => {
        measured += 1;
        await new Promise((r) => setTimeout(r, 300));
        return inventory;
      },
      workloads: () => [{ workloadId: 'wl_1', kind: 'model', phase }],
      intervalSeconds: 60,
      log: silentLogger,
    });
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    while (arrived.length < 1) await new Promise((r) => setTimeout(r, 10));

    phase = 'ready';
    const poked = Date.now();
    loop.poke();
    while (arrived.length < 2) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await running;

    expect(measured).toBe(1);
    expect(arrived[1]?.body.workloads[0]?.phase).toBe('ready');
    expect((arrived[1]?.at ?? 0) - poked).toBeLessThan(250);
  });
});
