import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCaptured } from '../main-captured.test-helper.js';

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** A server that records each request and answers it with `answer`'s status and JSON. */
async function recording(
  answer: (seen: Seen) => [number, unknown],
): Promise<{ server: Server; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      const one = {
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      };
      seen.push(one);
      const [status, json] = answer(one);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, seen };
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// `predict NAME --data simple.json` once looked the deployment up on the control plane first, which needs
// deployments:read: a predict-only key (what the dashboard's snippet hands out) got 403 before any prediction.
// Here the control plane refuses everything, as it does such a key, and only the edge answers.
describe('predict with simple JSON and a predict-only key', () => {
  let dir = '';
  let controlPlane: Awaited<ReturnType<typeof recording>>;
  let edge: Awaited<ReturnType<typeof recording>>;
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-predict-'));
    controlPlane = await recording(() => [
      403,
      { error: { code: 'forbidden', message: 'this API key lacks the deployments:read scope' } },
    ]);
    edge = await recording(({ path }) =>
      path === '/v1/deployments/ocr-cls/predict'
        ? [200, { outputs: { y: [[0.25, 0.75]] }, version: 1 }]
        : [404, { error: { code: 'not_found', message: `no route ${path}` } }],
    );
    await writeFile(join(dir, 'simple.json'), JSON.stringify({ inputs: { x: [[1, 2]] } }));
    process.env.MERIDIAN_CONFIG_DIR = dir;
    process.env.MERIDIAN_API_URL = urlOf(controlPlane.server);
    process.env.MERIDIAN_EDGE_URL = urlOf(edge.server);
    process.env.MERIDIAN_TOKEN = 'mk_live_predictonly';
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => controlPlane.server.close(resolve));
    await new Promise((resolve) => edge.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    controlPlane.seen.length = 0;
    edge.seen.length = 0;
  });

  const run = (args: string[]) => runCaptured(args);

  it('calls the edge by the deployment’s name, never the control plane', async () => {
    const { code, stdout, stderr } = await run(['predict', 'ocr-cls', '--data', join(dir, 'simple.json')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ outputs: { y: [[0.25, 0.75]] }, version: 1 });
    expect(controlPlane.seen).toEqual([]);
    expect(edge.seen).toHaveLength(1);
    expect(edge.seen[0]).toMatchObject({
      method: 'POST',
      path: '/v1/deployments/ocr-cls/predict',
      authorization: 'Bearer mk_live_predictonly',
    });
    expect(JSON.parse(edge.seen[0]?.body ?? '')).toEqual({ inputs: { x: [[1, 2]] } });
  });

  it('refuses --version as usage (exit 2): the simple route serves the deployment’s routing, not a pin', async () => {
    const { code, stderr } = await run([
      'predict',
      'ocr-cls',
      '--version',
      '2',
      '--data',
      join(dir, 'simple.json'),
    ]);
    expect(stderr).toMatch(
      /^meridian: --version pins a version of an OIP request: give "inputs" as a list of tensors/,
    );
    expect(stderr).toContain('--input name=@file.npy');
    expect(code).toBe(2);
    expect(controlPlane.seen).toEqual([]);
    expect(edge.seen).toEqual([]);
  });
});
