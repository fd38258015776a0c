import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The trivial upstream: a node:http server that reads each request's body and answers every request with
 * the same recorded response (the agent's own answer to the benchmark's request: status, content-type,
 * Inference-Header-Content-Length and body), so that a proxy in front of it shows its own cost.
 *   node --import tsx bench/edge/fixed-upstream.ts <response.json> ; prints {"msg":"listening","port":N}
 */
type Recorded = { status: number; headers: Record<string, string>; bodyBase64: string };

const recorded = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Recorded;
const body = Buffer.from(recorded.bodyBase64, 'base64');
const headers = { ...recorded.headers, 'content-length': String(body.byteLength) };

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(recorded.status, headers);
    res.end(body);
  });
});
// Proxies keep their upstream connections for long: do not close them under the benchmark.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ msg: 'listening', port: typeof address === 'object' ? address?.port : 0 }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
