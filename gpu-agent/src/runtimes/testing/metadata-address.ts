import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The cloud metadata address; tests bind it on the loopback device, where a workload could reach it. */
export const METADATA_ADDRESS = '169.254.169.254';

/** A TCP listener that answers and closes, standing for a service a workload must not reach. */
export interface TestListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

export function listenOn(host: string): Promise<TestListener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.0 200 OK\r\n\r\nsecret\n');
  });
  // A client that never closes its half (nc in a container) must not hold close() up.
  const close = () =>
    new Promise<void>((done) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => done());
    });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ host, port, close });
    });
  });
}

/**
 * Puts 169.254.169.254/32 on `lo` (as a cloud host routes it) unless it is there; the returned function
 * takes it off again if this call added it. Needs root.
 */
export async function bindMetadataAddress(): Promise<() => Promise<void>> {
  const { stdout } = await run('ip', ['-4', 'addr', 'show', 'dev', 'lo']);
  if (stdout.includes(`${METADATA_ADDRESS}/32`)) return async () => {};
  await run('ip', ['addr', 'add', `${METADATA_ADDRESS}/32`, 'dev', 'lo']);
  return async () => {
    await run('ip', ['addr', 'del', `${METADATA_ADDRESS}/32`, 'dev', 'lo']).catch(() => undefined);
  };
}
