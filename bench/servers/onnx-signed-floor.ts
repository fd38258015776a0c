// A second floor for bench/agent-serving.ts: the bare node:http floor (onnx-floor.ts) plus the edge
// signature check the data plane must make on every request, with the agent's own code (readSignedBody:
// headers, clock, nonce, body read, SHA-256 and HMAC, replay window). No decoding, no batching, a fixed
// answer: the gap from the node:http floor to this one is what the required check costs; the gap from
// this one to the agent is the agent's own work. argv[2] is JSON {path, shape, threads, key}.
import { createServer } from 'node:http';
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

const server = createServer(async (req, res) => {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  try {
    const body = await readSignedBody(
      {
        method: req.method ?? 'POST',
        target: req.url ?? '',
        header,
        readBody: (limit) => readIncomingBody(req, limit),
      },
      auth,
    );
    // As the data plane does once a request is answered: bodies come from a pool.
    recycleBody(body);
  } catch (err) {
    // A refused request fails the bench's cell (it counts non-200s): the floor must check what the agent does.
    res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '0' });
    res.end();
    console.error(err instanceof Error ? err.message : err);
    return;
  }
  await session.run(feeds);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.byteLength });
  res.end(answer);
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
