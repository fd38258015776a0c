import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';

/**
 * Control-plane calls by kind; routing pulls, usage flushes and refreshes ahead (`Meridian-Edge-Refresh:
 * background`, made after a response) are background work, the rest is what a request waited on.
 */
export interface CallCounts {
  routing: number;
  usage: number;
  /** Key, org and session records refreshed after a response. */
  refresh: number;
  /** Key resolutions, org status and anything else: calls a request may wait on. */
  other: number;
  otherPaths: string[];
  /** When each of `otherPaths` was called (ms since the epoch). */
  otherAt: number[];
}

export interface CountingProxy {
  url: string;
  counts(): CallCounts;
  close(): Promise<void>;
}

const zero = (): CallCounts => ({ routing: 0, usage: 0, refresh: 0, other: 0, otherPaths: [], otherAt: [] });

/** What happened between two readings of `counts()`. */
export function callsBetween(before: CallCounts, after: CallCounts): CallCounts {
  return {
    routing: after.routing - before.routing,
    usage: after.usage - before.usage,
    refresh: after.refresh - before.refresh,
    other: after.other - before.other,
    otherPaths: after.otherPaths.slice(before.otherPaths.length),
    otherAt: after.otherAt.slice(before.otherAt.length),
  };
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Rewrites a routing snapshot: every replica of the deployments in `replicaUrls` is served at the URL
 * given there. Any other answer (`unchanged`, an error) passes as it is.
 */
function rewriteSnapshot(body: Buffer, replicaUrls: Map<string, string>): Buffer {
  const snapshot = JSON.parse(body.toString('utf8')) as {
    deployments?: { deploymentId: string; versions: { replicas: { url: string }[] }[] }[];
  };
  if (!Array.isArray(snapshot.deployments)) return body;
  for (const d of snapshot.deployments) {
    const url = replicaUrls.get(d.deploymentId);
    if (url === undefined) continue;
    for (const v of d.versions) for (const r of v.replicas) r.url = url;
  }
  return Buffer.from(JSON.stringify(snapshot));
}

/**
 * An HTTP proxy between an edge and the control plane that counts every call by kind, and serves the
 * routing snapshot with the replicas of `replicaUrls`' deployments pointed elsewhere (the trivial upstream).
 */
export async function startCountingProxy(
  controlPlaneUrl: string,
  replicaUrls: Map<string, string>,
): Promise<CountingProxy> {
  const target = new URL(controlPlaneUrl);
  const agent = new Agent({ keepAlive: true });
  const counts = zero();
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const isRouting = req.method === 'GET' && path.startsWith('/internal/v1/routing');
    if (isRouting) counts.routing += 1;
    else if (req.method === 'POST' && path === '/internal/v1/usage') counts.usage += 1;
    else if (req.headers['meridian-edge-refresh'] === 'background') counts.refresh += 1;
    else {
      counts.other += 1;
      counts.otherPaths.push(`${req.method} ${path.replace(/\?.*/, '')}`);
      counts.otherAt.push(Date.now());
    }
    try {
      const body = await readAll(req);
      const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
        const headers = { ...req.headers, host: target.host, 'content-length': String(body.byteLength) };
        const out = request(
          { host: target.hostname, port: target.port, method: req.method, path, headers, agent },
          resolve,
        );
        out.on('error', reject);
        out.end(body);
      });
      let answer = await readAll(upstream);
      if (isRouting && upstream.statusCode === 200) answer = rewriteSnapshot(answer, replicaUrls);
      const headers = { ...upstream.headers, 'content-length': String(answer.byteLength) };
      delete headers['transfer-encoding'];
      res.writeHead(upstream.statusCode ?? 502, headers);
      res.end(answer);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`counting proxy: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts, otherPaths: [...counts.otherPaths], otherAt: [...counts.otherAt] }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
