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

/** Whether `port` on 127.0.0.1 can be bound right now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

/** The first of `count` consecutive free ports (for a process that binds a port and the ones after it). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    if (first + count > 65_535) continue;
    let all = true;
    for (let i = 1; i < count && all; i++) all = await isFree(first + i);
    if (all) return first;
  }
  throw new Error(`no run of ${count} free ports found`);
}
