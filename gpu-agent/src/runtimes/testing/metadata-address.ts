import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
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

/** One file per holder: test files running at once share the address, and the last one out takes it off. */
const HOLDERS_DIR = '/run/meridian-test-metadata-address';

/**
 * Puts 169.254.169.254/32 on `lo` (as a cloud host routes it) unless it is there; the returned function
 * takes it off again once no other holder (another test file running at the same time) still needs it.
 * Needs root.
 */
export async function bindMetadataAddress(): Promise<() => Promise<void>> {
  await mkdir(HOLDERS_DIR, { recursive: true });
  const mine = join(HOLDERS_DIR, `${process.pid}-${randomUUID()}`);
  await writeFile(mine, '');
  const { stdout } = await run('ip', ['-4', 'addr', 'show', 'dev', 'lo']);
  if (!stdout.includes(`${METADATA_ADDRESS}/32`)) {
    await run('ip', ['addr', 'add', `${METADATA_ADDRESS}/32`, 'dev', 'lo']).catch((error: unknown) => {
      // Another holder added it between the check and here.
      if (!String(error).includes('File exists')) throw error;
    });
  }
  return async () => {
    await rm(mine, { force: true });
    const holders = (await readdir(HOLDERS_DIR)).filter((name) => isAlive(Number(name.split('-')[0])));
    if (holders.length > 0) return;
    await run('ip', ['addr', 'del', `${METADATA_ADDRESS}/32`, 'dev', 'lo']).catch(() => undefined);
  };
}

/** Whether a holder's process still runs (a killed test run leaves its file behind). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
