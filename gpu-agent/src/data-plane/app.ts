import type { IncomingMessage } from 'node:http';
import { INFERENCE_HEADER_CONTENT_LENGTH, OipCodecError, type OipError } from '@meridian/protocol';
import { type Context, Hono } from 'hono';
import { InferInputError, InferTimeoutError, ModelWorkerError, QueueFullError } from '../onnx/errors.js';
import { readSignedBody, SignatureError } from './auth.js';
import { BodyIncompleteError, BodyTooLargeError } from './body.js';
import { inferOip } from './infer.js';
import { InferenceMetrics } from './metrics.js';
import type { ModelRegistry, ServedModel } from './models.js';

export type DataPlaneDeps = {
  models: ModelRegistry;
  /** The edge signing key for a deployment (distributed by the control plane); undefined → 401. */
  signingKey: (deploymentId: string) => Uint8Array | undefined;
  metrics?: InferenceMetrics;
  bodyLimitBytes?: number;
  maxSkewSeconds?: number;
  nowMs?: () => number;
};

// Under @hono/node-server, env.incoming is the Node request: the body is read from it directly.
type Env = { Bindings: { incoming?: IncomingMessage } | undefined; Variables: { body: Uint8Array } };

class NotFoundError extends Error {}

function statusOf(err: unknown): {
  status: 400 | 401 | 404 | 413 | 500 | 503 | 504;
  headers?: Record<string, string>;
} {
  if (err instanceof OipCodecError || err instanceof InferInputError || err instanceof BodyIncompleteError)
    return { status: 400 };
  if (err instanceof SignatureError) return { status: 401 };
  if (err instanceof NotFoundError) return { status: 404 };
  if (err instanceof BodyTooLargeError) return { status: 413, headers: { connection: 'close' } };
  if (err instanceof QueueFullError)
    return { status: 503, headers: { 'retry-after': String(err.retryAfterSeconds) } };
  if (err instanceof InferTimeoutError) return { status: 504 };
  // The model's worker died under this request and is starting again: worth a retry.
  if (err instanceof ModelWorkerError) return { status: 503, headers: { 'retry-after': '1' } };
  return { status: 500 };
}

/** The OIP v2 data plane the edge calls: every route requires the edge signature. */
export function createDataPlaneApp(deps: DataPlaneDeps) {
  const metrics = deps.metrics ?? new InferenceMetrics();
  const auth = {
    signingKey: deps.signingKey,
    bodyLimitBytes: deps.bodyLimitBytes ?? 64 * 1024 * 1024,
    maxSkewSeconds: deps.maxSkewSeconds,
    nowMs: deps.nowMs ?? Date.now,
  };
  const findModel = (c: Context<Env>): ServedModel => {
    const name = c.req.param('name') ?? '';
    const version = c.req.param('version');
    const model = deps.models.get(name, version);
    if (!model) throw new NotFoundError(`model '${name}'${version ? ` version '${version}'` : ''} not found`);
    return model;
  };
  // Every version of a name this agent serves (a rolling update holds two), for the metadata answer.
  const versionsOf = (name: string) => [
    ...new Set(
      deps.models
        .list()
        .filter((m) => m.name === name)
        .map((m) => m.version),
    ),
  ];

  const app = new Hono<Env>();
  app.use(async (c, next) => {
    const url = c.req.url;
    const target = url.slice(url.indexOf('/', url.indexOf('//') + 2));
    c.set('body', await readSignedBody(c.req.raw, target, auth, c.env?.incoming));
    await next();
  });
  app.onError((err, c) => {
    const { status, headers } = statusOf(err);
    const message = status === 500 ? 'internal error' : err.message;
    if (status === 500) console.error('data plane error', err);
    return c.json<OipError>({ error: message }, status, headers);
  });
  app.notFound((c) => c.json<OipError>({ error: 'not found' }, 404));

  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => {
    const ready = deps.models.list().every((m) => m.ready);
    return c.json({ ready }, ready ? 200 : 503);
  });
  app.get('/v2', (c) =>
    c.json({ name: 'meridian-gpu-agent', version: '0.1.0', extensions: ['binary_tensor_data'] }),
  );
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, (c) => {
      const m = findModel(c);
      const { inputs, outputs } = m.signature;
      return c.json({ name: m.name, versions: versionsOf(m.name), platform: m.platform, inputs, outputs });
    });
    app.get(`${prefix}/ready`, (c) => {
      const m = findModel(c);
      return c.json({ name: m.name, ready: m.ready }, m.ready ? 200 : 503);
    });
    app.post(`${prefix}/infer`, async (c) => {
      const model = findModel(c);
      const counters = metrics.forModel(model.name, model.version);
      const started = performance.now();
      try {
        const header = c.req.header(INFERENCE_HEADER_CONTENT_LENGTH);
        const headerLength = header === undefined ? undefined : Number(header);
        const out = await inferOip(model, c.get('body'), headerLength);
        counters.success.inc();
        counters.requestUs.inc((performance.now() - started) * 1000);
        counters.queueUs.inc(out.queueUs);
        counters.computeUs.inc(out.computeUs);
        if (out.headerLength === undefined)
          return c.body(out.body, 200, { 'content-type': 'application/json' });
        return c.body(out.body, 200, {
          'content-type': 'application/octet-stream',
          [INFERENCE_HEADER_CONTENT_LENGTH]: String(out.headerLength),
        });
      } catch (err) {
        counters.failure.inc();
        throw err;
      }
    });
  }
  return app;
}
