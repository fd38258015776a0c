import {
  CALLER_MODEL_HEADERS,
  INFERENCE_HEADER_CONTENT_LENGTH,
  isValidIdempotencyKey,
  type RoutedDeployment,
  type RoutedReplica,
  type RoutedVersion,
  type RoutingSnapshot,
} from '@meridian/protocol';
import { type Context, Hono } from 'hono';
import { authenticate, requirePredictScope } from '../auth/authenticate.js';
import { canonicalBodyHash, ResponseCache, responseCacheKey } from '../cache/response-cache.js';
import type { EdgeVariables } from '../caller.js';
import type { Env } from '../env.js';
import { EdgeError, echoed, type OipErrorBody } from '../errors.js';
import { type Admission, admit } from '../limits/admit.js';
import { noteMetricsTarget, recordDeploymentMetrics } from '../metrics/recorder.js';
import { codeForStatus, readAgentError } from '../oip/agent-errors.js';
import { binaryHeaderLength } from '../oip/binary-header.js';
import { nameInferAnswer, nameModelDescription } from '../oip/model-names.js';
import { fromOipResponse, type TensorSpec, toOipRequest } from '../oip/simple-json.js';
import { sumReplicaStats } from '../oip/statistics.js';
import { readBody } from '../request-body.js';
import { REQUEST_ID_HEADER } from '../request-id.js';
import { chooseVersion, findPinnedVersion } from '../routing/choose.js';
import { forwardToReplica, NoReplicaAnswered } from '../routing/forward.js';
import { forwardOrHold } from '../routing/forward-or-hold.js';
import { type CalledNoun, startFailed } from '../routing/hold-queue.js';
import { findById, findByName, routingTable } from '../routing/routing-table.js';
import { hasReplica, holdUntilReady, wakeForProbe } from '../routing/wake.js';

type AppEnv = { Bindings: Env; Variables: EdgeVariables };
type Ctx = Context<AppEnv>;

/** Asks for the same version on every call of this caller while the weights stay (A/B tests). */
const STICKY_HEADER = 'meridian-sticky';
/** The caller's name for one call, the same on each retry of it: billed once per org within 24 h. */
const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** The call's Idempotency-Key, if it sent one; 400 for a key of another shape (nothing is forwarded). */
function idempotencyKeyOf(c: Ctx): string | undefined {
  const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
  if (key === undefined || isValidIdempotencyKey(key)) return key;
  throw new EdgeError(
    'bad_request',
    'Idempotency-Key must be 1 to 255 characters of letters, digits and _ . : - (a UUID fits)',
  );
}

/**
 * Looks a deployment up in the isolate's snapshot. A miss may only mean that snapshot predates the
 * deployment (created a moment ago, or an isolate idle for a while serves its old one while refreshing in
 * the background), so a miss looks again in a fresh one, unless it was pulled within the last 250 ms.
 */
async function lookUp(c: Ctx, find: (snapshot: RoutingSnapshot) => RoutedDeployment | undefined) {
  const table = routingTable(c.env);
  return find(await table.snapshot(c.env, c.executionCtx)) ?? find(await table.afterMiss(c.env));
}

/**
 * How a route's caller names what it calls: OIP's `/v2/models/{name}` calls it a model, Meridian's
 * `/v1/deployments/{id or name}` a deployment (by name, or by id first). Its errors (a 404, a hold's 503)
 * use the caller's word.
 */
type CalledAs = { noun: 'model'; byId: false } | { noun: 'deployment'; byId: true };
const AS_MODEL: CalledAs = { noun: 'model', byId: false };
const AS_DEPLOYMENT: CalledAs = { noun: 'deployment', byId: true };

/** The caller's deployment, looked up as the route names it; another org's is never found. */
async function deploymentCalled(c: Ctx, ref: string, as: CalledAs = AS_MODEL): Promise<RoutedDeployment> {
  const { orgId } = c.get('caller');
  const deployment = await lookUp(
    c,
    (snapshot) => (as.byId ? findById(snapshot, orgId, ref) : undefined) ?? findByName(snapshot, orgId, ref),
  );
  // Another org's deployment answers exactly like one that does not exist.
  // The name is the caller's: echoed, but never more than a name's worth of it, nor a raw control character.
  if (!deployment) {
    const what = as.byId ? 'no deployment has that name or id' : 'no deployment has that name';
    throw new EdgeError('not_found', `${as.noun} '${echoed(ref)}' not found: ${what}`);
  }
  requirePredictScope(c.get('caller'), deployment);
  return deployment;
}

/** The 404 for a version the path pins that the deployment does not serve; the pin is the caller's text. */
const versionNotServed = (pinned: string, deployment: RoutedDeployment) =>
  new EdgeError('not_found', `version '${echoed(pinned)}' of model '${deployment.name}' is not being served`);

function versionOf(
  c: Ctx,
  deployment: RoutedDeployment,
  pinned: string | undefined,
  noun: CalledNoun = 'model',
) {
  const caller = c.get('caller');
  const sticky = c.req.header(STICKY_HEADER) === 'true' || c.req.header(STICKY_HEADER) === '1';
  const version = chooseVersion(deployment, {
    ...(pinned === undefined ? {} : { pinned }),
    ...(sticky ? { stickyKey: caller.keyId ?? caller.userId ?? caller.orgId } : {}),
  });
  if (version) return version;
  if (pinned !== undefined) throw versionNotServed(pinned, deployment);
  throw new EdgeError('unavailable', `${noun} '${deployment.name}' has no ready replica yet`, {
    'Retry-After': '5',
  });
}

/**
 * The deployment (as routing shows it once a replica serves) and the version that serves a call. While no
 * version has a ready replica (scaled to zero, or the first replica starting) the call is held: the hold
 * wakes the deployment and lets the call go on once a replica serves, or answers 503 with Retry-After. Its
 * errors name the deployment as the caller does (`noun`).
 */
async function servingVersion(
  c: Ctx,
  deployment: RoutedDeployment,
  pinned: string | undefined,
  bodyBytes: number,
  noun: CalledNoun = 'model',
): Promise<{ deployment: RoutedDeployment; version: RoutedVersion }> {
  if (hasReplica(deployment)) return { deployment, version: versionOf(c, deployment, pinned, noun) };
  // As routing shows it now: admission may have waited (for a lease), and a wake since may have failed.
  const { orgId, deploymentId } = deployment;
  const snapshot = await routingTable(c.env).snapshot(c.env, c.executionCtx);
  const current = findById(snapshot, orgId, deploymentId) ?? deployment;
  const ready = hasReplica(current)
    ? current
    : await holdUntilReady(c.env, current, bodyBytes, c.executionCtx, noun);
  return { deployment: ready, version: versionOf(c, ready, pinned, noun) };
}

/**
 * Limits and quota come first: a call they refuse is answered 429 at once, waking no deployment at zero and
 * waiting for no replica. What `prepare` then throws (no replica in time, a version or input that does not
 * exist) gives the call's quota unit back; from `infer` on, infer settles it.
 */
async function admitted<T>(c: Ctx, prepare: () => Promise<T>): Promise<{ admission: Admission } & T> {
  const admission = await admit(c.env, c.get('caller'), c.executionCtx);
  try {
    return { admission, ...(await prepare()) };
  } catch (err) {
    admission.failed();
    throw err;
  }
}

/** An infer call's answer from the agent (or the response cache), before it takes the route's shape. */
interface Served {
  status: number;
  body: Uint8Array;
  /** The agent's headers forwarding lets through, the cache's Cache-Status, and RateLimit. */
  headers: Headers;
}

/** What is sent to the agent: the body, and how to read it. */
interface InferCall {
  body: Uint8Array;
  contentType: string | undefined;
  /** Inference-Header-Content-Length, checked against the body. */
  headerLength: string | undefined;
  /** The caller's Idempotency-Key, signed with the usage identity the agent bills the call under. */
  idempotencyKey: string | undefined;
}

/** What a header can carry as it is: printable ASCII, no space at either end. */
const HEADER_SAFE = /^[!-~](?:[ -~]{0,254}[!-~])?$/;

/**
 * The metered path, once `admitted` has taken the call's limits and quota (leased allowance, no limiter call
 * for most calls): the response cache for deterministic models, and the signed forward; the agent that
 * serves the call records its usage. A call not served gives its quota unit back.
 *
 * With `named` (OIP routes), the agent is asked to name the model as the caller did (CALLER_MODEL_HEADERS);
 * when it has, its 2xx answer is streamed through as it is (a Response), with nothing buffered or rewritten.
 * Otherwise (an older agent, the response cache, an error) the answer is read whole for the route to shape.
 */
function infer(
  c: Ctx,
  deployment: RoutedDeployment,
  version: RoutedVersion,
  call: InferCall,
  admission: Admission,
): Promise<Served>;
function infer(
  c: Ctx,
  deployment: RoutedDeployment,
  version: RoutedVersion,
  call: InferCall,
  admission: Admission,
  named: true,
): Promise<Served | Response>;
async function infer(
  c: Ctx,
  deployment: RoutedDeployment,
  version: RoutedVersion,
  call: InferCall,
  admission: Admission,
  named = false,
): Promise<Served | Response> {
  // Three fields, not a copy of the whole routed deployment (its versions and replicas) per call.
  const { orgId, deploymentId } = deployment;
  noteMetricsTarget(c.req.raw, { orgId, deploymentId, versionId: version.versionId });
  // c.get, not c.var: hono builds c.var anew from its Map on every read.
  const caller = c.get('caller');
  const { body, contentType, headerLength, idempotencyKey } = call;
  let ok = false;
  try {
    const cache = deployment.deterministic ? new ResponseCache() : undefined;
    const key = cache
      ? responseCacheKey(version.versionId, await canonicalBodyHash(body, contentType, headerLength))
      : '';
    const hit = cache ? await cache.lookup(key) : undefined;
    if (hit) {
      // A cached answer is a served call: it counts towards usage and quota like any other, recorded here
      // (no agent saw it) before the answer leaves.
      const bytes = new Uint8Array(await hit.arrayBuffer());
      await admission.servedAtEdge({
        deploymentId: deployment.deploymentId,
        bytesIn: body.byteLength,
        bytesOut: bytes.byteLength,
        idempotencyKey,
      });
      ok = true;
      return withHeaders(200, bytes, hit.headers, admission.headers);
    }
    const headers: Record<string, string> = { [REQUEST_ID_HEADER]: c.get('requestId') };
    if (headerLength !== undefined) headers[INFERENCE_HEADER_CONTENT_LENGTH] = headerLength;
    // A cached answer is shared by every deployment of the version: it keeps the agent's ids.
    if (named && !cache && HEADER_SAFE.test(deployment.name)) {
      headers[CALLER_MODEL_HEADERS.name] = deployment.name;
      headers[CALLER_MODEL_HEADERS.version] = String(version.version);
    }
    const request = {
      deployment,
      version,
      method: 'POST',
      path: '/infer',
      body,
      ...(contentType === undefined ? {} : { contentType }),
      headers,
      // Signed; the agent journals each 200 it answers under it and reports the calls for billing.
      usage: { orgId: caller.orgId, keyId: caller.keyId, userId: caller.userId, idempotencyKey },
      // Not on an answer the cache keeps: another caller's RateLimit would be stored with it.
      ...(cache ? {} : { answerHeaders: admission.headers }),
    };
    // A call that reaches no replica because routing was stale (scaled to zero meanwhile), or because its
    // replicas are down (a crash or restart routing does not show yet), is held, not failed.
    // Only OIP routes ask for names (`named`); /v1's predict, the other caller, names a deployment.
    const forwarded = await forwardOrHold(c.env, request, c.executionCtx, named ? 'model' : 'deployment');
    const { response } = forwarded;
    ok = response.ok;
    if (ok && forwarded.named && !cache) return response;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!cache) return { status: response.status, body: bytes, headers: response.headers };
    // The cache keeps the agent's own answer (it is shared by every deployment of the version) and marks
    // what is sent with its Cache-Status; 200s are stored in the background.
    const stored = new Response(bytes.slice(), { status: response.status, headers: response.headers });
    const marked = cache.store(key, stored, c.executionCtx);
    // Only its headers are needed here: the bytes are at hand.
    await marked.body?.cancel();
    return withHeaders(response.status, bytes, marked.headers, admission.headers);
  } finally {
    // Served calls were recorded by the agent (or above, for a cache hit); a failed one gives its quota back.
    if (!ok) admission.failed();
  }
}

function withHeaders(
  status: number,
  body: Uint8Array,
  upstream: Headers,
  extra: Record<string, string>,
): Served {
  const headers = new Headers(upstream);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return { status, body, headers };
}

/**
 * An infer answer for an OIP caller: a 2xx names the model as the caller did (deployment name, version
 * number) in its JSON header; an error is OIP's `{"error": "<message>"}`, the agent's as it is when it
 * already has that shape, otherwise its message with the edge's code and request id.
 */
function oipAnswer(c: Ctx, served: Served, deployment: RoutedDeployment, version: RoutedVersion): Response {
  const { status, headers } = served;
  if (status >= 300) return oipError(c, served);
  const named = nameInferAnswer(
    { body: served.body, headerLength: headers.get(INFERENCE_HEADER_CONTENT_LENGTH) ?? undefined },
    { ...deployment, versionId: version.versionId, version: version.version },
  );
  if (named.headerLength !== undefined) headers.set(INFERENCE_HEADER_CONTENT_LENGTH, named.headerLength);
  return new Response(named.body, { status, headers });
}

function oipError(c: Ctx, served: Served): Response {
  const { status, body, headers } = served;
  const error = readAgentError(status, body);
  if (error.oip) return new Response(body, { status, headers });
  const oip: OipErrorBody = {
    error: error.message,
    code: codeForStatus(status),
    requestId: c.get('requestId'),
  };
  headers.set('content-type', 'application/json');
  headers.delete(INFERENCE_HEADER_CONTENT_LENGTH);
  return new Response(JSON.stringify(oip), { status, headers });
}

/**
 * A readiness probe's version. A probe is answered as things stand, never held; but at zero (no version has
 * a replica) it wakes the deployment in the background and answers 503 at once, as KServe does, so that a
 * client's `while not is_model_ready(m)` loop ends once a replica is up rather than spinning forever. While
 * its last start failed (routing's `startFailure`) the 503 says why instead, and wakes nothing: the control
 * plane retries on its own.
 */
function probedVersion(c: Ctx, deployment: RoutedDeployment): RoutedVersion {
  const pinned = c.req.param('version');
  if (hasReplica(deployment)) return versionOf(c, deployment, pinned);
  // A version the deployment does not have is 404, woken or not.
  if (pinned !== undefined && !findPinnedVersion(deployment, pinned)) versionOf(c, deployment, pinned);
  const failed = startFailed(deployment);
  if (failed) throw failed;
  wakeForProbe(c.env, deployment, c.executionCtx);
  throw new EdgeError(
    'unavailable',
    `model '${deployment.name}' has no ready replica (scaled to zero, or starting): waking it; retry shortly`,
    { 'Retry-After': '5' },
  );
}

/**
 * A probe whose replicas are all gone (404, refused): an isolate idle for a while routes by the snapshot it
 * held while it refreshes in the background, so a deployment that went to zero meanwhile still shows its
 * old replica. Routing as it is now decides: at zero the probe wakes it and says so (probedVersion).
 */
async function probeGone<T>(c: Ctx, deployment: RoutedDeployment, forwarded: Promise<T>): Promise<T> {
  try {
    return await forwarded;
  } catch (err) {
    if (!(err instanceof NoReplicaAnswered) || !err.down) throw err;
    const now = findById(await routingTable(c.env).fresh(c.env), deployment.orgId, deployment.deploymentId);
    if (now && !hasReplica(now)) probedVersion(c, now);
    throw err;
  }
}

/** Model metadata and readiness: forwarded to a replica, neither metered nor rate limited. */
async function describe(c: Ctx, suffix: '' | '/ready') {
  const called = await deploymentCalled(c, c.req.param('name') ?? '');
  // Metadata waits for a replica (held); readiness is answered at once (probedVersion).
  const { deployment, version } =
    suffix === '/ready'
      ? { deployment: called, version: probedVersion(c, called) }
      : await servingVersion(c, called, c.req.param('version'), 0);
  const forwarded = forwardToReplica(c.env, {
    deployment,
    version,
    method: 'GET',
    path: suffix,
    body: new Uint8Array(0),
    headers: { [REQUEST_ID_HEADER]: c.get('requestId') },
  });
  const { response } = suffix === '/ready' ? await probeGone(c, deployment, forwarded) : await forwarded;
  const body = new Uint8Array(await response.arrayBuffer());
  const answer = { status: response.status, body, headers: new Headers(response.headers) };
  if (!response.ok) return oipError(c, answer);
  // The agent names the model by deployment id; callers know it by its name in their org.
  const versions = suffix === '' ? deployment.versions.map((v) => v.version) : undefined;
  const named = nameModelDescription(body, deployment.name, versions);
  if (named === undefined) return oipError(c, { ...answer, status: 502 });
  return c.json(named, 200);
}

/**
 * Triton's statistics: each serving replica of the version (or of every version) is asked for its own, and
 * the edge answers their sum under the caller's names. A replica that does not answer is left out; a
 * version with none (scaled to zero) reads zero. Not metered, and it wakes nothing.
 */
async function statistics(c: Ctx) {
  const deployment = await deploymentCalled(c, c.req.param('name') ?? '');
  const pinned = c.req.param('version');
  // Pinned as /infer pins: by version id or by number.
  const one = pinned === undefined ? undefined : findPinnedVersion(deployment, pinned);
  if (pinned !== undefined && one === undefined) throw versionNotServed(pinned, deployment);
  const versions = one === undefined ? deployment.versions : [one];
  const askReplica = (version: RoutedVersion, replica: RoutedReplica) =>
    forwardToReplica(c.env, {
      deployment,
      version: { ...version, replicas: [replica] },
      method: 'GET',
      path: '/stats',
      body: new Uint8Array(0),
      headers: { [REQUEST_ID_HEADER]: c.get('requestId') },
    })
      .then(async ({ response }) => {
        if (response.ok) return response.json();
        await response.body?.cancel();
        return undefined;
      })
      .catch(() => undefined);
  const model_stats = await Promise.all(
    versions.map(async (v) => {
      const answers = await Promise.all(v.replicas.map((replica) => askReplica(v, replica)));
      return sumReplicaStats(deployment.name, String(v.version), answers);
    }),
  );
  return c.json({ model_stats }, 200);
}

/**
 * Input names and datatypes of a version, from its replica's metadata; cached per isolate (versions are
 * immutable). Only `/v1/deployments/{id or name}/predict` needs them, so its error says deployment.
 */
const signatures = new Map<string, TensorSpec[]>();
async function inputsOf(c: Ctx, deployment: RoutedDeployment, version: RoutedVersion) {
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
    throw new EdgeError('unavailable', `deployment '${deployment.name}' did not describe its inputs`);
  const meta = (await response.json()) as { inputs?: TensorSpec[] };
  const inputs = (meta.inputs ?? []).map(({ name, datatype }) => ({ name, datatype }));
  signatures.set(version.versionId, inputs);
  return inputs;
}

/** `POST /v1/deployments/{id or name}/predict`: simple JSON in and out, OIP in between. */
async function predictSimple(c: Ctx) {
  const idempotencyKey = idempotencyKeyOf(c);
  const called = await deploymentCalled(c, c.req.param('id') ?? '', AS_DEPLOYMENT);
  let parsed: { inputs?: unknown };
  let bodyBytes: number;
  try {
    const raw = await readBody(c.req.raw);
    bodyBytes = raw.byteLength;
    parsed = JSON.parse(new TextDecoder().decode(raw)) as { inputs?: unknown };
  } catch (err) {
    if (err instanceof EdgeError) throw err;
    throw new EdgeError('invalid_json', 'the body must be JSON: {"inputs": {"<input name>": [[…]]}}');
  }
  const { admission, deployment, version, body } = await admitted(c, async () => {
    const serving = await servingVersion(c, called, undefined, bodyBytes, AS_DEPLOYMENT.noun);
    const request = toOipRequest(parsed.inputs, await inputsOf(c, serving.deployment, serving.version));
    return { ...serving, body: new TextEncoder().encode(JSON.stringify(request)) };
  });
  const call = { body, contentType: 'application/json', headerLength: undefined, idempotencyKey };
  const answer = await infer(c, deployment, version, call, admission);
  const headers = Object.fromEntries(
    [...answer.headers].filter(([k]) => k !== 'content-type' && k !== INFERENCE_HEADER_CONTENT_LENGTH),
  );
  if (answer.status >= 300) {
    // The agent's error, in the edge's own envelope: this is not an OIP route.
    const code = codeForStatus(answer.status);
    const { message } = readAgentError(answer.status, answer.body);
    const envelope = { error: { code, message, requestId: c.get('requestId') } };
    return c.json(envelope, answer.status as 400, headers);
  }
  const oip = JSON.parse(new TextDecoder().decode(answer.body)) as {
    outputs: { name: string; shape: number[]; data: unknown[] }[];
  };
  return c.json({ outputs: fromOipResponse(oip.outputs), version: version.version }, 200, headers);
}

export function createPredictionRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(recordDeploymentMetrics());
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', async (c) => {
    await routingTable(c.env).snapshot(c.env, c.executionCtx);
    return c.json({ ready: true });
  });
  app.get('/v2', (c) =>
    c.json({ name: 'meridian-edge', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics'] }),
  );

  const auth = authenticate({ allow: ['api_key', 'user'] });
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(base, auth, (c) => describe(c, ''));
    app.get(`${base}/ready`, auth, (c) => describe(c, '/ready'));
    app.get(`${base}/stats`, auth, statistics);
    app.post(`${base}/infer`, auth, async (c) => {
      const idempotencyKey = idempotencyKeyOf(c);
      const called = await deploymentCalled(c, c.req.param('name') ?? '');
      // Read whole before any hold: a held call's bytes count against the hold's byte bound.
      const body = await readBody(c.req.raw);
      const headerLength = binaryHeaderLength(c.req.header(INFERENCE_HEADER_CONTENT_LENGTH), body.byteLength);
      const { admission, deployment, version } = await admitted(c, () =>
        servingVersion(c, called, c.req.param('version'), body.byteLength),
      );
      const contentType = c.req.header('content-type');
      const call = { body, contentType, headerLength, idempotencyKey };
      const answer = await infer(c, deployment, version, call, admission, true);
      return answer instanceof Response ? answer : oipAnswer(c, answer, deployment, version);
    });
  }
  app.post('/v1/deployments/:id/predict', auth, predictSimple);
  return app;
}
