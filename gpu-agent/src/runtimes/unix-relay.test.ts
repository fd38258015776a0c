import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnixRelays } from './unix-relay.js';

// A real unix-socket server behind a real relay: what idle culling learns from the bytes clients send.
let dir = '';
let server: Server;
const relays = new UnixRelays('127.0.0.1');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meridian-relay-'));
  server = createServer((socket) =>
    socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')),
  );
  await new Promise<void>((resolve) => server.listen(join(dir, 'server.sock'), resolve));
});
afterAll(async () => {
  await relays.closeAll();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Sends `text` through the relay on a fresh connection and waits for the answer. */
async function send(port: number, text: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', () => resolve());
    socket.write(text);
  });
  socket.destroy();
}

describe('UnixRelays traffic', () => {
  it('counts what clients send, but not the agent’s own reads marked no_track_activity', async () => {
    const port = await relays.open('nb_w', join(dir, 'server.sock'));
    expect(relays.lastTraffic('nb_w')).toBeUndefined();
    await send(port, 'GET /notebooks/nb_x/api/status?no_track_activity=1 HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(relays.lastTraffic('nb_w')).toBeUndefined();
    const before = Date.now();
    await send(port, 'GET /notebooks/nb_x/static/main.js HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(relays.lastTraffic('nb_w')).toBeGreaterThanOrEqual(before);
    await relays.close('nb_w');
    expect(relays.lastTraffic('nb_w')).toBeUndefined();
  });
});
