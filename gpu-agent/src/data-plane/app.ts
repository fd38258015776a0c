import type { IncomingMessage } from 'node:http';
import { INFERENCE_HEADER_CONTENT_LENGTH, PRIORITY_HEADER } from '@meridian/protocol';
import { type Context, Hono } from 'hono';
import { createJsonLogger, type Logger } from '../agent/logger.js';
import type { CallRecorder } from '../agent/usage-journal.js';
import type { WorkloadLogReader } from '../agent/workload-logs.js';
import type { DeploymentMonitor } from '../monitoring/deployment-monitor.js';
import {
  type Answer,
  answerInfer,
  callerNamesOf,
  errorAnswer,
  findModel as find,
  oipErrorBody,
} from './answers.js';
import { readSignedBody } from './auth.js';
import { readBodyLimited } from './body.js';
import { logRoutes } from './logs-route.js';
import { InferenceMetrics } from './metrics.js';
import {
  type ModelServers,
  modelServerFor,
  relayedRequest,
  relayInfer,
  relayToModelServer,
} from './model-servers.js';
import type { ModelRegistry } from './models.js';
import { NonceCache } from './nonces.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { journalServed } from './usage.js';

export type DataPlaneDeps = {
  models: ModelRegistry;
  /** Custom model-server containers on this agent: calls for their deployments are relayed to them. */
  modelServers?: ModelServers;
  /** This agent's data-plane key of a generation (from the control plane), while accepted; undefined → 401. */
  signingKey: (generation: number) => Uint8Array | undefined;
  /** True while the agent is starting and knows no key yet: signed calls then answer 503 (replica down). */
  keyPending?: () => boolean;
  /** Nonces seen within the signature window (one cache for both serving paths). */
  nonces?: NonceCache;
  /** Where infer calls answered 200 are recorded for billing; when set, an infer call must name its org. */
  journal?: CallRecorder;
  metrics?: InferenceMetrics;
  /** Per-deployment queue/compute figures and drift sampling, reported to the control plane. */
  monitor?: DeploymentMonitor;
  bodyLimitBytes?: number;
  maxSkewSeconds?: number;
  nowMs?: () => number;
  /** Where failed requests are logged (one JSON line each); stderr by default. */
  log?: Logger;
  /** Workloads' recent lines, served to the control plane at /agent/v1/workloads/{id}/logs when set. */
  workloadLogs?: WorkloadLogReader;
};

/** The logger a data plane writes failures to. */
export function dataPlaneLog(deps: DataPlaneDeps): Logger {
  return deps.log ?? createJsonLogger((line) => process.stderr.write(line));
}

// Under @hono/node-server, env.incoming is the Node request: the body is read from it directly.
type Env = { Bindings: { incoming?: IncomingMessage } | undefined; Variables: { body: Uint8Array } };

/** The signature check's settings, defaults filled in. */
export function authOptions(deps: DataPlaneDeps) {
  return {
    signingKey: deps.signingKey,
    keyPending: deps.keyPending,
    nonces: deps.nonces ?? new NonceCache(),
    usageRequired: deps.journal !== undefined,
    bodyLimitBytes: deps.bodyLimitBytes ?? 64 * 1024 * 1024,
    maxSkewSeconds: deps.maxSkewSeconds,
    nowMs: deps.nowMs ?? Date.now,
  };
}

const send = (c: Context<Env>, a: Answer) =>
  c.body(a.body as Uint8Array<ArrayBuffer>, a.status as 200, a.headers);

/** The OIP v2 data plane the edge calls: every route requires the edge signature. */
export function createDataPlaneApp(deps: DataPlaneDeps) {
  const metrics = deps.metrics ?? new InferenceMetrics();
  const auth = authOptions(deps);
  const log = dataPlaneLog(deps);
  const findModel = (c: Context<Env>) => find(deps.models, c.req.param('name') ?? '', c.req.param('version'));
  const serverFor = (c: Context<Env>) =>
    modelServerFor(deps, c.req.param('name') ?? '', c.req.param('version'));
  const relayed = (
    c: Context<Env>,
    method: 'GET' | 'POST',
    path: '' | '/ready' | '/infer',
    body?: Uint8Array,
  ) => relayedRequest((name) => c.req.header(name), method, path, body);
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
    const request = {
      method: c.req.method,
      target,
      header: (name: string) => c.req.header(name),
      readBody: (limit: number) => readBodyLimited(c.req.raw, limit, c.env?.incoming),
    };
    c.set('body', await readSignedBody(request, auth));
    await next();
  });
  const requestId = (c: Context<Env>) => requestIdOf(c.req.header(REQUEST_ID_HEADER));
  app.onError((err, c) => send(c, errorAnswer(err, { requestId: requestId(c) }, log)));
  app.notFound((c) => c.json(oipErrorBody(404, 'not found', requestId(c)), 404));

  if (deps.workloadLogs) app.route('/', logRoutes(deps.workloadLogs));
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', (c) => {
    const ready = deps.models.list().every((m) => m.ready);
    return c.json({ ready }, ready ? 200 : 503);
  });
  app.get('/v2', (c) =>
    c.json({
      name: 'meridian-gpu-agent',
      version: '0.1.0',
      extensions: ['binary_tensor_data', 'statistics'],
    }),
  );
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, async (c) => {
      const server = serverFor(c);
      if (server) return send(c, await relayToModelServer(server, relayed(c, 'GET', '')));
      const m = findModel(c);
      const { inputs, outputs } = m.signature;
      return c.json({ name: m.name, versions: versionsOf(m.name), platform: m.platform, inputs, outputs });
    });
    app.get(`${prefix}/ready`, async (c) => {
      const server = serverFor(c);
      if (server) return send(c, await relayToModelServer(server, relayed(c, 'GET', '/ready')));
      const m = findModel(c);
      return c.json({ name: m.name, ready: m.ready }, m.ready ? 200 : 503);
    });
    // Triton's statistics extension: this replica's figures; the edge adds up a deployment's replicas.
    app.get(`${prefix}/stats`, (c) => {
      // A model server's calls are counted as they are relayed (relayInfer), under its deployment and version.
      const server = serverFor(c);
      if (server) return c.json({ model_stats: [metrics.statistics(server.name, server.version)] });
      const m = findModel(c);
      return c.json({ model_stats: [metrics.statistics(m.name, m.version)] });
    });
    app.post(`${prefix}/infer`, async (c) => {
      const body = c.get('body');
      const header = (name: string) => c.req.header(name);
      const server = serverFor(c);
      if (server && deps.modelServers) {
        const request = relayed(c, 'POST', '/infer', body);
        const answer = await relayInfer(deps.modelServers, server, request, {
          monitor: deps.monitor,
          metrics,
        });
        const served = { deploymentId: server.name, bytesIn: body.byteLength };
        return send(c, await journalServed(deps.journal, header, served, answer));
      }
      const model = findModel(c);
      const answer = await answerInfer(
        model,
        metrics,
        body,
        c.req.header(INFERENCE_HEADER_CONTENT_LENGTH),
        deps.monitor,
        c.req.header(PRIORITY_HEADER) === 'batch',
        callerNamesOf(header),
      );
      const served = { deploymentId: model.name, bytesIn: body.byteLength };
      return send(c, await journalServed(deps.journal, header, served, answer));
    });
  }
  return app;
}
