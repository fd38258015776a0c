// The floors for bench/agent-serving.ts: a bare node:http server that reads each request body, runs the
// model on fixed inputs and answers a fixed body. No decoding, no batching: what serving a model over HTTP
// costs on this machine before any of the agent's work. With `signed`, it also makes the edge signature
// check the data plane must make on every request, with the agent's own code (readSignedBody: headers,
// clock, nonce, body read, SHA-256 and HMAC, replay window): the gap between the two floors is what the
// required check costs; the gap from the signed floor to the agent is the agent's own work.
// argv[2] is JSON {path, shape, threads, key, signed}.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readSignedBody } from '../../gpu-agent/src/data-plane/auth.js';
import { readIncomingBody } from '../../gpu-agent/src/data-plane/body.js';
import { recycleBody } from '../../gpu-agent/src/data-plane/body-pool.js';
import { NonceCache } from '../../gpu-agent/src/data-plane/nonces.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  path: string;
  shape: number[];
  threads: number;
  key: string;
  signed?: boolean;
};
const session = await InferenceSession.create(config.path, {
  intraOpNumThreads: config.threads,
  interOpNumThreads: 1,
  executionProviders: ['cpu'],
});
const size = config.shape.reduce((a, b) => a * b, 1);
const feeds = { [session.inputNames[0] ?? 'x']: new Tensor('float32', new Float32Array(size), config.shape) };
const answer = Buffer.alloc(64);
const key = Buffer.from(config.key, 'hex');
const auth = {
  signingKey: () => key,
  nonces: new NonceCache(),
  bodyLimitBytes: 64 * 1024 * 1024,
  nowMs: Date.now,
};

/** The data plane's check, as its listener calls it; the body goes back to the pool as the listener does. */
async function checkSignature(req: IncomingMessage): Promise<void> {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const request = {
    method: req.method ?? 'POST',
    target: req.url ?? '',
    header,
    readBody: (limit: number) => readIncomingBody(req, limit),
  };
  recycleBody(await readSignedBody(request, auth));
}

const server = createServer((req, res) => {
  const answered = async () => {
    await session.run(feeds);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.byteLength });
    res.end(answer);
  };
  if (!config.signed) {
    req.on('data', () => {});
    req.on('end', answered);
    return;
  }
  checkSignature(req).then(answered, (err: unknown) => {
    // A refused request fails the bench's cell (it counts non-200s): this floor checks what the agent does.
    console.error(err instanceof Error ? err.message : err);
    res.writeHead(401, { 'content-length': '0' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
