import { lstat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';

type Relay = { socketPath: string; server: Server; port: number; sockets: Set<Socket> };
type Traffic = { at: number | undefined };

/**
 * Requests the agent makes itself to read a workload's state carry this in their query (Jupyter's own
 * marker for "do not count as activity"); a connection that opens with it is not client traffic.
 */
export const UNTRACKED_MARKER = 'no_track_activity=1';

/**
 * TCP listeners on the agent's host that pass each connection through to a workload's unix socket. An
 * isolated workload has no network but its own loopback; its server listens on a socket in its runtime
 * dir, and this is how the agent, the edge and health probes still reach it over TCP. HTTP and WebSocket
 * alike: bytes are copied as they come.
 */
export class UnixRelays {
  private readonly relays = new Map<string, Promise<Relay>>();
  private readonly traffic = new Map<string, Traffic>();

  constructor(private readonly host: string) {}

  /** The port relaying to `socketPath` for `workloadId`, opened on first use. */
  async open(workloadId: string, socketPath: string): Promise<number> {
    const existing = this.relays.get(workloadId);
    if (existing) {
      const relay = await existing.catch(() => undefined);
      if (relay?.socketPath === socketPath) return relay.port;
      await this.close(workloadId);
    }
    const traffic = this.traffic.get(workloadId) ?? { at: undefined };
    this.traffic.set(workloadId, traffic);
    const opening = listen(this.host, socketPath, traffic);
    this.relays.set(workloadId, opening);
    opening.catch(() => this.relays.delete(workloadId));
    return (await opening).port;
  }

  /**
   * When a client last sent `workloadId` anything through its relay (ms since the epoch): every HTTP request
   * and WebSocket message the edge passes on, page assets included. The agent's own reads do not count.
   */
  lastTraffic(workloadId: string): number | undefined {
    return this.traffic.get(workloadId)?.at;
  }

  /** Stops relaying for `workloadId` and ends its open connections. */
  async close(workloadId: string): Promise<void> {
    const opening = this.relays.get(workloadId);
    this.traffic.delete(workloadId);
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

function listen(host: string, socketPath: string, traffic: Traffic): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    countTraffic(client, traffic);
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

/** Notes the time of every chunk a client sends, unless the connection opens with the agent's own marker. */
function countTraffic(client: Socket, traffic: Traffic): void {
  let counted: boolean | undefined;
  client.on('data', (chunk: Buffer) => {
    counted ??= !chunk.subarray(0, 2048).toString('latin1').includes(UNTRACKED_MARKER);
    if (counted) traffic.at = Date.now();
  });
}
