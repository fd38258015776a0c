import { lstat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';

type Relay = { socketPath: string; server: Server; port: number; sockets: Set<Socket> };

/**
 * TCP listeners on the agent's host that pass each connection through to a workload's unix socket. An
 * isolated workload has no network but its own loopback; its server listens on a socket in its runtime
 * dir, and this is how the agent, the edge and health probes still reach it over TCP. HTTP and WebSocket
 * alike: bytes are copied as they come.
 */
export class UnixRelays {
  private readonly relays = new Map<string, Promise<Relay>>();

  constructor(private readonly host: string) {}

  /** The port relaying to `socketPath` for `workloadId`, opened on first use. */
  async open(workloadId: string, socketPath: string): Promise<number> {
    const existing = this.relays.get(workloadId);
    if (existing) {
      const relay = await existing.catch(() => undefined);
      if (relay?.socketPath === socketPath) return relay.port;
      await this.close(workloadId);
    }
    const opening = listen(this.host, socketPath);
    this.relays.set(workloadId, opening);
    opening.catch(() => this.relays.delete(workloadId));
    return (await opening).port;
  }

  /** Stops relaying for `workloadId` and ends its open connections. */
  async close(workloadId: string): Promise<void> {
    const opening = this.relays.get(workloadId);
    if (!opening) return;
    this.relays.delete(workloadId);
    const relay = await opening.catch(() => undefined);
    if (!relay) return;
    for (const socket of relay.sockets) socket.destroy();
    await new Promise<void>((resolve) => relay.server.close(() => resolve()));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.relays.keys()].map((id) => this.close(id)));
  }
}

function listen(host: string, socketPath: string): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    // The runtime dir is the workload's own: what sits at the path must be a socket, not a link it planted.
    lstat(socketPath).then(
      (info) => {
        if (!info.isSocket()) return client.destroy();
        const upstream = connect(socketPath);
        sockets.add(upstream);
        upstream.once('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => upstream.destroy());
        client.once('close', () => upstream.destroy());
        upstream.once('connect', () => {
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        });
      },
      () => client.destroy(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ socketPath, server, port, sockets });
    });
  });
}
