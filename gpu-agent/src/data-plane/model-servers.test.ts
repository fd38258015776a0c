import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ModelStat, REPLICA_DOWN_HEADER } from '@meridian/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServedCall } from '../agent/usage-journal.js';
import { InferTimeoutError, ModelWorkerError } from '../onnx/errors.js';
import { createDataPlaneApp } from './app.js';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { type ModelServer, ModelServers, relayInfer, relayToModelServer } from './model-servers.js';
import { staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

/** A stand-in for a tenant's model-server container: a real HTTP server answering as `handler` says. */
async function containerAnswering(
  handler: Handler,
): Promise<{ server: ModelServer; close(): Promise<void> }> {
  const http: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handler(req, Buffer.concat(parts), res));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    server: { workloadId: 'wl_1', name: 'dep_1', version: 'mdv_1', origin: `http://127.0.0.1:${port}` },
    close: () =>
      new Promise((done) => {
        http.closeAllConnections();
        http.close(() => done());
      }),
  };
}

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

async function relay(handler: Handler, options = { timeoutMs: 5_000, maxAnswerBytes: 1024 }) {
  const container = await containerAnswering(handler);
  opened.push(container);
  return relayToModelServer(
    container.server,
    { method: 'POST', path: '/infer', body: new TextEncoder().encode('{"inputs":[]}'), requestId: 'req_1' },
    options,
  );
}

const text = (body: Uint8Array) => new TextDecoder().decode(body);

describe('relaying a call to a model-server container', () => {
  it('sends the body to /v2/models/<deployment>/infer and passes back only what a caller reads', async () => {
    let seen = '';
    const answer = await relay((req, body, res) => {
      seen = `${req.method} ${req.url} ${req.headers['content-type']} ${body}`;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': '12',
        'set-cookie': 'tracking=1',
        server: 'tenant/1.0',
      });
      res.end('{"outputs":[]}abc');
    });
    expect(seen).toBe('POST /v2/models/dep_1/infer undefined {"inputs":[]}');
    expect(answer).toEqual({
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '12' },
      body: expect.any(Uint8Array),
    });
    expect(text(answer.body)).toBe('{"outputs":[]}abc');
  });

  it('answers any success as 200, the status that is billed', async () => {
    for (const status of [201, 203, 206]) {
      const answer = await relay((_req, _body, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"outputs":[]}');
      });
      expect(answer.status).toBe(200);
    }
  });

  it("keeps the status and message of the server's own refusal, with the request id", async () => {
    const answer = await relay((_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"input x must have 3 columns"}');
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(text(answer.body))).toEqual({
      error: 'input x must have 3 columns',
      code: 'bad_request',
      requestId: 'req_1',
    });
  });

  it('answers 502 for what a model server must not answer: a redirect, a 404 for its own name, a 418', async () => {
    for (const [status, headers] of [
      [302, { location: 'http://169.254.169.254/latest/meta-data/' }],
      [404, {}],
      [418, {}],
    ] as const) {
      const answer = await relay((_req, _body, res) => {
        res.writeHead(status, headers);
        res.end('nope');
      });
      expect(answer.status).toBe(502);
      expect(JSON.parse(text(answer.body)).error).toBe(`the model server answered ${status}`);
    }
  });

  it('refuses an answer larger than the limit, declared or streamed', async () => {
    const declared = await relay((_req, _body, res) => {
      res.writeHead(200, { 'content-length': '2048' });
      res.end(Buffer.alloc(2048));
    });
    const streamed = await relay((_req, _body, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(600));
      res.end(Buffer.alloc(600));
    });
    for (const answer of [declared, streamed]) {
      expect(answer.status).toBe(502);
      expect(JSON.parse(text(answer.body)).error).toBe("the model server's answer is larger than 1024 bytes");
    }
  });

  it('times out a server that does not answer (504), and says so for one that cannot be reached (503)', async () => {
    await expect(relay(() => {}, { timeoutMs: 200, maxAnswerBytes: 1024 })).rejects.toThrow(
      InferTimeoutError,
    );
    const gone = await containerAnswering(() => {});
    await gone.close();
    const unreachable = relayToModelServer(gone.server, {
      method: 'GET',
      path: '/ready',
      requestId: 'req_2',
    });
    await expect(unreachable).rejects.toThrow(ModelWorkerError);
    await expect(unreachable).rejects.toThrow(/the model server of 'dep_1' cannot be reached/);
  });
});

describe('ModelServers', () => {
  it('finds the newest server of a deployment (of a version when asked) and forgets a removed one', () => {
    const servers = new ModelServers();
    const of = (workloadId: string, version: string) => ({
      workloadId,
      name: 'dep_1',
      version,
      origin: 'http://x',
    });
    servers.add(of('wl_1', 'mdv_1'));
    servers.add(of('wl_2', 'mdv_2'));
    expect(servers.get('dep_1')?.workloadId).toBe('wl_2');
    expect(servers.get('dep_1', 'mdv_1')?.workloadId).toBe('wl_1');
    expect(servers.get('dep_2')).toBeUndefined();
    servers.remove('wl_2');
    expect(servers.get('dep_1')?.workloadId).toBe('wl_1');
  });
});

describe('a model server that goes away', () => {
  it("lets a removed server's calls run out, and ends an exited one's at once as the replica being down", async () => {
    const container = await containerAnswering((_req, _body, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, 300);
    });
    opened.push(container);
    const servers = new ModelServers();
    const request = { method: 'POST' as const, path: '/infer' as const, requestId: 'req_1' };

    // A graceful stop (scale-down, rolling update): no new calls, but those in flight are answered.
    servers.add(container.server);
    const drained = relayInfer(servers, container.server, request, {});
    servers.remove(container.server.workloadId);
    expect((await drained).status).toBe(200);

    servers.add(container.server);
    const started = performance.now();
    const cut = relayInfer(servers, container.server, request, {});
    await new Promise((r) => setTimeout(r, 50));
    servers.exited(container.server.workloadId);
    await expect(cut).rejects.toThrow(ModelWorkerError);
    await expect(cut).rejects.toThrow("the model server of 'dep_1' exited");
    expect(performance.now() - started).toBeLessThan(250);
    expect(servers.get('dep_1')).toBeUndefined();
  });
});

describe('a model server under load', () => {
  it("counts the calls relayed to it as its load, and each one's status and time in its deployment's figures", async () => {
    const container = await containerAnswering((_req, _body, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, 150);
    });
    opened.push(container);
    const servers = new ModelServers();
    servers.add(container.server);
    const observed: [string, string, number, number][] = [];
    const monitor = {
      observe: (d: string, v: string, status: number, _q: number, computeUs: number) =>
        void observed.push([d, v, status, computeUs]),
    };
    const request = { method: 'POST' as const, path: '/infer' as const, requestId: 'req_1' };
    const calls = [1, 2].map(() => relayInfer(servers, container.server, request, { monitor }));
    await new Promise((r) => setTimeout(r, 50));
    expect(servers.loads()[0]?.load.inFlight).toBe(2);
    await Promise.all(calls);
    const [reading] = servers.loads();
    expect(reading?.workloadId).toBe('wl_1');
    expect(reading?.load.inFlight).toBe(0);
    // Two calls of ~150 ms each, in request-milliseconds.
    expect(reading?.load.inFlightMs).toBeGreaterThan(250);
    expect(observed.map(([d, v, status]) => [d, v, status])).toEqual([
      ['dep_1', 'mdv_1', 200],
      ['dep_1', 'mdv_1', 200],
    ]);
    for (const [, , , us] of observed) expect(us).toBeGreaterThan(100_000);
    servers.remove('wl_1');
    expect(servers.loads()).toEqual([]);
  });
});

describe('the data plane with a model server', () => {
  /** The agent's two serving paths (the Node fast path and the hono app) over `modelServers`, and a signer. */
  async function servingPaths(
    modelServers: ModelServers,
    journaled: ServedCall[] = [],
    metrics = new InferenceMetrics(),
  ) {
    const key = new TextEncoder().encode('k'.repeat(32));
    const deps = {
      models: staticRegistry([]),
      modelServers,
      metrics,
      signingKey: (generation: number) => (generation === 1 ? key : undefined),
      journal: { record: async (call: ServedCall) => void journaled.push(call) },
    };
    const fast = await listen(createDataPlaneListener(deps));
    opened.push(fast);
    const app = createDataPlaneApp(deps);
    const usage = { orgId: 'org_1', keyId: 'key_1', userId: null };
    const signed = (target: string, method = 'POST') =>
      edgeHeaders(key, {
        method,
        target,
        ...(method === 'POST' ? { body } : {}),
        deploymentId: 'dep_1',
        headers: { 'content-type': 'application/json' },
        usage,
      });
    /** One signed infer call on each path. */
    const inferOnBoth = async (target: string) => [
      await fetch(fast.url + target, { method: 'POST', headers: signed(target), body }),
      await app.fetch(
        new Request(`http://agent${target}`, { method: 'POST', headers: signed(target), body }),
      ),
    ];
    return { fast, signed, inferOnBoth };
  }
  const body = new TextEncoder().encode('{"inputs":[]}');
  const target = '/v2/models/dep_1/versions/mdv_1/infer';

  it('relays a signed call on both serving paths, journals each 200, and refuses an unsigned one', async () => {
    const container = await containerAnswering((req, body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ model_name: 'dep_1', outputs: [], echoed: `${req.url} ${body}` }));
    });
    opened.push(container);
    const modelServers = new ModelServers();
    modelServers.add(container.server);
    const journaled: ServedCall[] = [];
    const { fast, signed, inferOnBoth } = await servingPaths(modelServers, journaled);
    const answers = await inferOnBoth(target);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { echoed: string }).echoed).toBe(
        '/v2/models/dep_1/infer {"inputs":[]}',
      );
    }
    expect(journaled.map((c) => [c.orgId, c.deploymentId, c.bytesIn])).toEqual([
      ['org_1', 'dep_1', body.byteLength],
      ['org_1', 'dep_1', body.byteLength],
    ]);

    const unsigned = await fetch(fast.url + target, { method: 'POST', body });
    expect(unsigned.status).toBe(401);
    const otherVersion = '/v2/models/dep_1/versions/mdv_9/infer';
    const missing = await fetch(fast.url + otherVersion, {
      method: 'POST',
      headers: signed(otherVersion),
      body,
    });
    expect(missing.status).toBe(404);
    expect(journaled).toHaveLength(2);
  });

  it('counts relayed calls in the statistics the edge sums, as it does an onnx replica’s', async () => {
    // Triton's statistics of a custom image's replica read zero for every call it served: /stats looked
    // for an onnx model only (404), so tritonclient's get_inference_statistics saw a serving model idle.
    let fail = false;
    const container = await containerAnswering((_req, _body, res) => {
      res.writeHead(fail ? 400 : 200, { 'content-type': 'application/json' });
      res.end(fail ? '{"error":"bad input"}' : '{"outputs":[]}');
    });
    opened.push(container);
    const modelServers = new ModelServers();
    modelServers.add(container.server);
    const metrics = new InferenceMetrics();
    const { fast, signed, inferOnBoth } = await servingPaths(modelServers, [], metrics);
    const before = Date.now();
    await inferOnBoth(target);
    fail = true;
    await inferOnBoth(target);
    const stats = '/v2/models/dep_1/versions/mdv_1/stats';
    const res = await fetch(fast.url + stats, { headers: signed(stats, 'GET') });
    expect(res.status).toBe(200);
    const { model_stats } = (await res.json()) as { model_stats: ModelStat[] };
    expect(model_stats).toHaveLength(1);
    const [stat] = model_stats as [ModelStat];
    expect(stat).toMatchObject({ name: 'dep_1', version: 'mdv_1', inference_count: 2, execution_count: 2 });
    expect(stat.last_inference).toBeGreaterThanOrEqual(before);
    expect(stat.inference_stats.success.count).toBe(2);
    expect(stat.inference_stats.success.ns).toBeGreaterThan(0);
    expect(stat.inference_stats.fail.count).toBe(2);
    expect(stat.inference_stats.compute_infer.count).toBe(2);
  });

  it('says the replica is down when its server cannot be reached, and not when the server itself answers 503', async () => {
    const gone = await containerAnswering(() => {});
    await gone.close();
    const busy = await containerAnswering((_req, _body, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
      res.end('{"error":"too many requests in flight"}');
    });
    opened.push(busy);
    const modelServers = new ModelServers();
    const { inferOnBoth } = await servingPaths(modelServers);

    modelServers.add(gone.server);
    for (const answer of await inferOnBoth(target)) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get(REPLICA_DOWN_HEADER)).toBe('1');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(((await answer.json()) as { error: string }).error).toMatch(/cannot be reached/);
    }
    modelServers.remove(gone.server.workloadId);
    modelServers.add(busy.server);
    for (const answer of await inferOnBoth(target)) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get(REPLICA_DOWN_HEADER)).toBeNull();
      expect(answer.headers.get('retry-after')).toBe('2');
      expect(((await answer.json()) as { error: string }).error).toBe('too many requests in flight');
    }
  });
});
