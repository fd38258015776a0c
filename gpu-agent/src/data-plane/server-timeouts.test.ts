import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { withDataPlaneTimeouts } from './server-timeouts.js';

const REQUEST = 'GET /v2/health/live HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';

describe('data plane connection timeouts', () => {
  it('keeps an idle keep-alive connection open past Node’s 5 s default, so a pooled client can reuse it', async () => {
    const server = withDataPlaneTimeouts(createServer((_req, res) => res.end('{"live":true}')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    const answers: string[] = [];
    socket.on('data', (chunk: Buffer) => answers.push(chunk.toString('latin1')));
    const closed = once(socket, 'close').then(() => 'closed');
    try {
      socket.write(REQUEST);
      await new Promise((r) => setTimeout(r, 6_500));
      socket.write(REQUEST);
      const second = new Promise((resolve) => socket.once('data', () => resolve('answered')));
      expect(await Promise.race([second, closed])).toBe('answered');
      expect(answers.filter((a) => a.startsWith('HTTP/1.1 200'))).toHaveLength(2);
    } finally {
      socket.destroy();
      server.close();
    }
  }, 15_000);
});
