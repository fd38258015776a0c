import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers for one blob: whole, cut off after some bytes, or with an HTTP error. */
export type BlobBehaviour = 'whole' | { cutAfterBytes: number } | { status: number };

/**
 * A real HTTP server on 127.0.0.1 serving blobs under the control plane's signed-URL shape
 * (`/v1/storage/objects/<base64url key>?expires=…&signature=…`), counting requests per blob. Tests only.
 */
export class TestBlobServer {
  private readonly blobs = new Map<string, { bytes: Buffer; behaviour: BlobBehaviour }>();
  private readonly hitCounts = new Map<string, number>();
  private readonly server: Server;
  private baseUrl = '';

  private constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = /^\/v1\/storage\/objects\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      const key = match?.[1] ? Buffer.from(match[1], 'base64url').toString('utf8') : '';
      const blob = this.blobs.get(key);
      this.hitCounts.set(key, (this.hitCounts.get(key) ?? 0) + 1);
      if (!url.searchParams.get('expires') || !url.searchParams.get('signature')) {
        res.writeHead(403).end();
        return;
      }
      if (!blob) {
        res.writeHead(404).end();
        return;
      }
      const { bytes, behaviour } = blob;
      if (typeof behaviour === 'object' && 'status' in behaviour) {
        res.writeHead(behaviour.status).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      if (behaviour === 'whole') {
        res.end(bytes);
        return;
      }
      // Promise every byte, send some, then drop the connection: a transfer broken midway.
      res.write(bytes.subarray(0, behaviour.cutAfterBytes), () => res.destroy());
    });
  }

  static async start(): Promise<TestBlobServer> {
    const server = new TestBlobServer();
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    const { port } = server.server.address() as AddressInfo;
    server.baseUrl = `http://127.0.0.1:${port}`;
    return server;
  }

  /** Serves `bytes` as `key`; returns the source an agent would receive for it. */
  put(key: string, bytes: Buffer, behaviour: BlobBehaviour = 'whole') {
    this.blobs.set(key, { bytes, behaviour });
    return {
      url: this.url(key),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sizeBytes: bytes.length,
    };
  }

  setBehaviour(key: string, behaviour: BlobBehaviour): void {
    const blob = this.blobs.get(key);
    if (blob) blob.behaviour = behaviour;
  }

  url(key: string): string {
    const expires = Math.floor(Date.now() / 1000) + 900;
    return `${this.baseUrl}/v1/storage/objects/${Buffer.from(key).toString('base64url')}?expires=${expires}&signature=${'ab'.repeat(32)}`;
  }

  hits(key: string): number {
    return this.hitCounts.get(key) ?? 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
