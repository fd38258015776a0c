import type { RoutedDeployment, RoutingSnapshot } from '@meridian/protocol';
import { type Context, Hono } from 'hono';
import { authenticate, requirePredictScope } from '../auth/authenticate.js';
import { canonicalBodyHash, ResponseCache, responseCacheKey } from '../cache/response-cache.js';
import type { EdgeVariables } from '../caller.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { admit } from '../limits/admit.js';
import { fromOipResponse, type TensorSpec, toOipRequest } from '../oip/simple-json.js';
import { chooseVersion } from '../routing/choose.js';
import { forwardToReplica } from '../routing/forward.js';
import { findById, findByName, routingTable } from '../routing/routing-table.js';

type AppEnv = { Bindings: Env; Variables: EdgeVariables };
type Ctx = Context<AppEnv>;

/** The largest prediction body the edge forwards; larger ones get 413 before any work. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const BINARY_HEADER = 'inference-header-content-length';
/** Asks for the same version on every call of this caller while the weights stay (A/B tests). */
const STICKY_HEADER = 'meridian-sticky';

async function readBody(c: Ctx): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES)
    throw new EdgeError('payload_too_large', `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (body.byteLength > MAX_BODY_BYTES)
    throw new EdgeError('payload_too_large', `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  return body;
}

/**
 * Looks a deployment up in the isolate's snapshot. A miss may only mean that snapshot predates the
 * deployment (an isolate idle for a while serves its old one while refreshing in the background), so a miss
 * looks again in a fresh one; a snapshot younger than the refresh interval is not pulled again.
 */
async function lookUp(c: Ctx, find: (snapshot: RoutingSnapshot) => RoutedDeployment | undefined) {
  const table = routingTable(c.env);
  return find(await table.snapshot(c.env, c.executionCtx)) ?? find(await table.snapshot(c.env));
}

async function deploymentNamed(c: Ctx, name: string): Promise<RoutedDeployment> {
  const deployment = await lookUp(c, (snapshot) => findByName(snapshot, c.var.caller.orgId, name));
  // Another org's deployment answers exactly like one that does not exist.
  if (!deployment) throw new EdgeError('not_found', `model '${name}' not found`);
  requirePredictScope(c.var.caller, deployment);
  return deployment;
}

function versionOf(c: Ctx, deployment: RoutedDeployment, pinned: string | undefined) {
  const caller = c.var.caller;
  const sticky = c.req.header(STICKY_HEADER) === 'true' || c.req.header(STICKY_HEADER) === '1';
  const version = chooseVersion(deployment, {
    ...(pinned === undefined ? {} : { pinned }),
    ...(sticky ? { stickyKey: caller.keyId ?? caller.userId ?? caller.orgId } : {}),
  });
  if (version) return version;
  if (pinned !== undefined)
    throw new EdgeError('not_found', `version '${pinned}' of model '${deployment.name}' is not being served`);
  throw new EdgeError('unavailable', `model '${deployment.name}' has no ready replica yet`, {
    'Retry-After': '5',
  });
}

/** Copies the agent's answer with the headers a client needs, plus ours. */
function answer(
  status: number,
  body: Uint8Array,
  upstream: Headers,
  extra: Record<string, string>,
): Response {
  const headers = new Headers(extra);
  for (const name of ['content-type', BINARY_HEADER]) {
    const value = upstream.get(name);
    if (value !== null) headers.set(name, value);
  }
  return new Response(body, { status, headers });
}

/**
 * The metered path: limits and quota, the response cache for deterministic models, the signed forward,
 * and usage counted after the response (waitUntil), so counting adds no latency.
 */
async function infer(c: Ctx, deployment: RoutedDeployment, pinned: string | undefined, body: Uint8Array) {
  const version = versionOf(c, deployment, pinned);
  const admission = await admit(c.env, c.var.caller);
  const contentType = c.req.header('content-type');
  const headerLength = c.req.header(BINARY_HEADER);
  let ok = false;
  let bytesOut = 0;
  try {
    const cache = deployment.deterministic ? new ResponseCache() : undefined;
    const key = cache
      ? responseCacheKey(version.versionId, await canonicalBodyHash(body, contentType, headerLength))
      : '';
    const hit = cache ? await cache.lookup(key) : undefined;
    if (hit) {
      // A cached answer is a served call: it counts towards usage and quota like any other.
      const bytes = new Uint8Array(await hit.arrayBuffer());
      ok = true;
      bytesOut = bytes.byteLength;
      return answer(200, bytes, hit.headers, {
        ...admission.headers,
        'cache-status': hit.headers.get('cache-status') ?? 'meridian-edge; hit',
      });
    }
    const { response } = await forwardToReplica(c.env, {
      deployment,
      version,
      method: 'POST',
      path: '/infer',
      body,
      ...(contentType === undefined ? {} : { contentType }),
      headers: headerLength === undefined ? {} : { [BINARY_HEADER]: headerLength },
      // Signed; the agent journals each 200 it answers under it and reports the calls for billing.
      usage: { orgId: c.var.caller.orgId, keyId: c.var.caller.keyId, userId: c.var.caller.userId },
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    ok = response.ok;
    bytesOut = bytes.byteLength;
    const sent = answer(response.status, bytes, response.headers, admission.headers);
    // The cache stores 200s in the background and marks the answer with its Cache-Status either way.
    return cache ? cache.store(key, sent, c.executionCtx) : sent;
  } finally {
    c.executionCtx.waitUntil(
      admission.complete({ deploymentId: deployment.deploymentId, ok, bytesIn: body.byteLength, bytesOut }),
    );
  }
}

/** Model metadata and readiness: forwarded to a replica, neither metered nor rate limited. */
async function describe(c: Ctx, suffix: '' | '/ready') {
  const deployment = await deploymentNamed(c, c.req.param('name') ?? '');
  const version = versionOf(c, deployment, c.req.param('version'));
  const { response } = await forwardToReplica(c.env, {
    deployment,
    version,
    method: 'GET',
    path: suffix,
    body: new Uint8Array(0),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (suffix === '' && response.ok) {
    // The agent names the model by deployment id; callers know it by its name in their org.
    const meta = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return c.json({
      ...meta,
      name: deployment.name,
      versions: deployment.versions.map((v) => String(v.version)),
    });
  }
  return answer(response.status, bytes, response.headers, {});
}

/** Input names and datatypes of a version, from its replica's metadata; cached per isolate (versions are immutable). */
const signatures = new Map<string, TensorSpec[]>();
async function inputsOf(c: Ctx, deployment: RoutedDeployment, version: ReturnType<typeof versionOf>) {
  const known = signatures.get(version.versionId);
  if (known) return known;
  const { response } = await forwardToReplica(c.env, {
    deployment,
    version,
    method: 'GET',
    path: '',
    body: new Uint8Array(0),
  });
  if (!response.ok)
    throw new EdgeError('unavailable', `model '${deployment.name}' did not describe its inputs`);
  const meta = (await response.json()) as { inputs?: TensorSpec[] };
  const inputs = (meta.inputs ?? []).map(({ name, datatype }) => ({ name, datatype }));
  signatures.set(version.versionId, inputs);
  return inputs;
}

export function createPredictionRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', async (c) => {
    await routingTable(c.env).snapshot(c.env, c.executionCtx);
    return c.json({ ready: true });
  });
  app.get('/v2', (c) =>
    c.json({ name: 'meridian-edge', version: '0.1.0', extensions: ['binary_tensor_data'] }),
  );

  const auth = authenticate({ allow: ['api_key', 'user'] });
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(base, auth, (c) => describe(c, ''));
    app.get(`${base}/ready`, auth, (c) => describe(c, '/ready'));
    app.post(`${base}/infer`, auth, async (c) => {
      const deployment = await deploymentNamed(c, c.req.param('name') ?? '');
      return infer(c, deployment, c.req.param('version'), await readBody(c));
    });
  }

  app.post('/v1/deployments/:id/predict', auth, async (c) => {
    const deployment = await lookUp(c, (snapshot) =>
      findById(snapshot, c.var.caller.orgId, c.req.param('id')),
    );
    if (!deployment) throw new EdgeError('not_found', `deployment '${c.req.param('id')}' not found`);
    requirePredictScope(c.var.caller, deployment);
    let parsed: { inputs?: unknown };
    try {
      parsed = JSON.parse(new TextDecoder().decode(await readBody(c))) as { inputs?: unknown };
    } catch {
      throw new EdgeError('invalid_json', 'the body must be JSON: {"inputs": {"<input name>": [[…]]}}');
    }
    const version = versionOf(c, deployment, undefined);
    const request = toOipRequest(parsed.inputs, await inputsOf(c, deployment, version));
    const body = new TextEncoder().encode(JSON.stringify(request));
    const res = await infer(c, deployment, version.versionId, body);
    if (!res.ok) return res;
    const oip = (await res.json()) as { outputs: { name: string; shape: number[]; data: unknown[] }[] };
    const headers = Object.fromEntries(
      [...res.headers].filter(([k]) => k !== 'content-type' && k !== 'content-length'),
    );
    return c.json({ outputs: fromOipResponse(oip.outputs), version: version.version }, 200, headers);
  });
  return app;
}
