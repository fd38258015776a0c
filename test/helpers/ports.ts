import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago: bind to port 0, read what the kernel chose, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address: ${String(address)}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
