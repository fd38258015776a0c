// The floor for bench/agent-serving.ts: a bare node:http server that reads each request body, runs the
// model on fixed inputs and answers a fixed body. No signature, no decoding, no batching: what serving a
// model over HTTP costs on this machine before any of the agent's work. argv[2] is JSON {path, shape, threads}.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const config = JSON.parse(process.argv[2] ?? '{}') as { path: string; shape: number[]; threads: number };
const session = await InferenceSession.create(config.path, {
  intraOpNumThreads: config.threads,
  interOpNumThreads: 1,
  executionProviders: ['cpu'],
});
const size = config.shape.reduce((a, b) => a * b, 1);
const feeds = { [session.inputNames[0] ?? 'x']: new Tensor('float32', new Float32Array(size), config.shape) };
const answer = Buffer.alloc(64);

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', async () => {
    await session.run(feeds);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.byteLength });
    res.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
