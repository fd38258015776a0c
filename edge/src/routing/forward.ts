import {
  CALLER_NAMED_HEADER,
  INFERENCE_HEADER_CONTENT_LENGTH,
  REPLICA_DOWN_HEADER,
  type RoutedDeployment,
  type RoutedReplica,
  type RoutedVersion,
  USAGE_HEADERS,
  type UsageIdentity,
  usageHeaders,
} from '@meridian/protocol';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { chooseReplica, type RandomSource } from './choose.js';
import { OutstandingRequests } from './outstanding.js';
import { ReplicaHealth } from './replica-health.js';
import { RetryBudget } from './retry-budget.js';
import { agentSigningKey, sha256Hex, signatureHeaders } from './signer.js';

export type ForwardEnv = Pick<Env, 'DATA_PLANE_SIGNING_KEY' | 'UPSTREAM_TIMEOUT_MS'>;

/** One prediction (or metadata) request for a chosen version. */
export interface ForwardRequest {
  deployment: RoutedDeployment;
  version: RoutedVersion;
  method: string;
  /** The OIP suffix after `/v2/models/{name}[/versions/{v}]`: '/infer', '/ready' or ''. */
  path: string;
  body: Uint8Array;
  contentType?: string;
  /** Sent as they are, e.g. Inference-Header-Content-Length for binary tensors. */
  headers?: Record<string, string>;
  /** Added to the answer's headers as they are (RateLimit), so the answer is built once. */
  answerHeaders?: Record<string, string>;
  /** Per attempt; UPSTREAM_TIMEOUT_MS by default. */
  timeoutMs?: number;
  /**
   * Who a metered call is billed to: signed, and journaled by the agent for each 200 it answers (the agent
   * reports the calls; the edge writes no usage per forwarded call). Absent on metadata calls.
   */
  usage?: UsageIdentity;
}

export interface Forwarded {
  /**
   * The agent's answer: its status, body stream, content-type, Inference-Header-Content-Length and
   * Retry-After, with the request's answerHeaders.
   */
  response: Response;
  /** The agent wrote the caller's names (CALLER_MODEL_HEADERS) into the answer: it can go out as it is. */
  named: boolean;
  replica: RoutedReplica;
  attempts: number;
}

/** Isolate state forwarding shares; tests pass their own. */
export interface ForwardDeps {
  outstanding?: OutstandingRequests;
  budget?: RetryBudget;
  health?: ReplicaHealth;
  random?: RandomSource;
}

/** Retries after the first attempt, at most, for one request. */
export const MAX_RETRIES_PER_REQUEST = 2;
const DEFAULT_TIMEOUT_MS = 30_000;
// The agent's answer headers a caller may see; everything else (server, date, …) stays behind.
const PASSED_HEADERS = ['content-type', INFERENCE_HEADER_CONTENT_LENGTH, 'retry-after'];

const isolateOutstanding = new OutstandingRequests();
const isolateBudget = new RetryBudget();
const isolateHealth = new ReplicaHealth();

/**
 * A failed attempt is `down` when the replica cannot serve at all now (its agent cannot be reached, no longer
 * has it, or says it is down), not when it is busy (a 503 for its load) or slow (no answer in time).
 */
type Attempt =
  | { ok: true; response: Response }
  | { ok: false; reason: string; down: boolean; retryAfter?: string };

/**
 * The 503 for a call no replica answered. `down` when every replica tried was down rather than busy or slow:
 * a crash or restart that routing may not show yet, which the caller of forwardToReplica may wait out.
 */
export class NoReplicaAnswered extends EdgeError {
  constructor(
    message: string,
    headers: Record<string, string>,
    readonly down: boolean,
  ) {
    super('unavailable', message, headers);
  }
}

/**
 * Sends a signed OIP request to a replica of `version`, as `/v2/models/<deploymentId>/versions/<versionId>`.
 * A connection failure, a timeout before the answer, a 503 (model not loaded, queue full) or a 404 (the
 * agent no longer serves it: routing was stale) is retried on
 * another replica of the same version, at most MAX_RETRIES_PER_REQUEST times and within the isolate's
 * retry budget; any other status is the answer. Throws NoReplicaAnswered when nothing answered.
 */
export async function forwardToReplica(
  env: ForwardEnv,
  request: ForwardRequest,
  deps: ForwardDeps = {},
): Promise<Forwarded> {
  const { deployment, version } = request;
  if (version.replicas.length === 0)
    throw new EdgeError('unavailable', `no ready replica of ${deployment.name}`, { 'Retry-After': '1' });
  const outstanding = deps.outstanding ?? isolateOutstanding;
  const budget = deps.budget ?? isolateBudget;
  const health = deps.health ?? isolateHealth;
  const timeoutMs = request.timeoutMs ?? positiveNumber(env.UPSTREAM_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
  const method = request.method.toUpperCase();
  // A GET carries no body, and the signature covers exactly what is sent.
  const body = method === 'GET' || method === 'HEAD' ? new Uint8Array() : request.body;
  const bodySha256Hex = await sha256Hex(body);
  const target = `/v2/models/${encodeURIComponent(deployment.deploymentId)}/versions/${encodeURIComponent(version.versionId)}${request.path}`;

  budget.recordRequest();
  const tried = new Set<string>();
  const failures: string[] = [];
  let allDown = true;
  let retryAfter = '1';
  for (let attempts = 1; ; attempts++) {
    // Replicas that failed lately come last: only when every other one has been tried.
    const avoid = new Set([...tried, ...health.ejected()]);
    const replica =
      chooseReplica(version.replicas, outstanding.count, avoid, deps.random) ??
      chooseReplica(version.replicas, outstanding.count, tried, deps.random);
    if (!replica) break;
    tried.add(replica.workloadId);
    const base = replicaBase(replica.url);
    const headers = await signedHeaders(env, request, replica, {
      method,
      target: base.path + target,
      bodySha256Hex,
    });
    const url = base.origin + base.path + target;
    const end = outstanding.start(replica.workloadId);
    const outcome = await attempt(url, { method, headers, body }, timeoutMs).finally(end);
    if (outcome.ok) {
      health.restore(replica.workloadId);
      const named = outcome.response.headers.get(CALLER_NAMED_HEADER) === '1';
      return { response: passThrough(outcome.response, request.answerHeaders), named, replica, attempts };
    }
    health.eject(replica.workloadId);
    failures.push(`${replica.workloadId}: ${outcome.reason}`);
    allDown &&= outcome.down;
    if (outcome.retryAfter !== undefined) retryAfter = outcome.retryAfter;
    const untried = version.replicas.some((r) => !tried.has(r.workloadId));
    if (attempts > MAX_RETRIES_PER_REQUEST || !untried || !budget.tryAcquireRetry()) break;
  }
  // The caller learns which model could not be reached, not the workload ids or network errors behind it
  // (internal details); the operator's log line has them.
  console.warn(
    JSON.stringify({
      level: 'warn',
      message: 'no replica answered',
      deploymentId: deployment.deploymentId,
      attempts: failures,
    }),
  );
  // "wl_…: connection failed (Network connection lost.)" → "connection failed".
  const reasons = failures.map((f) => f.replace(/^[^:]*: /, '').replace(/ \(.*\)$/, ''));
  throw new NoReplicaAnswered(
    `no replica of ${deployment.name} answered (${reasons.join('; ')}); retry in ${retryAfter} s`,
    { 'Retry-After': retryAfter },
    allDown,
  );
}

/**
 * The headers of one attempt: the route's, the usage identity, and the signature under the replica's agent
 * key over what is sent (the content-type and binary header length as they stand in these very headers). A
 * fresh random nonce per attempt: the agent refuses a nonce twice, and a caller-chosen request id could repeat.
 */
async function signedHeaders(
  env: ForwardEnv,
  request: ForwardRequest,
  replica: RoutedReplica,
  signed: { method: string; target: string; bodySha256Hex: string },
): Promise<Record<string, string>> {
  // A plain record: fetch builds its Headers natively, where a Headers object here costs a call per header.
  const headers: Record<string, string> = {};
  if (request.headers)
    for (const name in request.headers) headers[name.toLowerCase()] = request.headers[name] as string;
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  for (const name of Object.values(USAGE_HEADERS)) delete headers[name];
  const usage = usageHeaders(request.usage);
  for (const name in usage) headers[name] = usage[name] as string;
  const key = agentSigningKey(env.DATA_PLANE_SIGNING_KEY, replica.agentId, replica.keyGeneration);
  let signature: Record<string, string>;
  try {
    signature = await signatureHeaders(key, {
      ...signed,
      deploymentId: request.deployment.deploymentId,
      nonce: crypto.randomUUID(),
      keyGeneration: replica.keyGeneration,
      contentType: headers['content-type'] ?? '',
      inferenceHeaderContentLength: headers[INFERENCE_HEADER_CONTENT_LENGTH] ?? '',
      usage: request.usage,
    });
  } catch {
    throw new EdgeError(
      'bad_request',
      'the Content-Type or Inference-Header-Content-Length header cannot be forwarded',
    );
  }
  // Set last, so no header the route passes along can stand in for the signature.
  for (const name in signature) headers[name] = signature[name] as string;
  return headers;
}

/**
 * One attempt, bounded by `timeoutMs` from the request to the end of the answer's body. workerd's own
 * AbortSignal.timeout: one native timer, where an AbortController with nodejs_compat's setTimeout and
 * clearTimeout built three JS objects per attempt (~5% of the edge's CPU under load). A pending timer does
 * not keep a finished request alive.
 */
async function attempt(
  url: string,
  init: { method: string; headers: Record<string, string>; body: Uint8Array },
  timeoutMs: number,
): Promise<Attempt> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body.byteLength > 0 ? { body: init.body } : {}),
      signal,
    });
    if (response.status !== 503 && response.status !== 404) return { ok: true, response };
    // The agent is up but cannot serve this model now (not loaded, unloading, queue full), or no longer has
    // it (a replica scaled down while this isolate's routing still showed it): try another.
    await response.body?.cancel();
    const retryAfter = response.headers.get('retry-after') ?? undefined;
    return {
      ok: false,
      reason: `answered ${response.status}`,
      down: response.status === 404 || response.headers.get(REPLICA_DOWN_HEADER) === '1',
      ...(retryAfter && /^\d+$/.test(retryAfter) ? { retryAfter } : {}),
    };
  } catch (err) {
    if (signal.aborted) return { ok: false, reason: `no answer within ${timeoutMs} ms`, down: false };
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `connection failed (${why})`, down: true };
  }
}

const MAX_BASES = 4096;
const bases = new Map<string, { origin: string; path: string }>();

/**
 * A replica URL split once per isolate into its origin and path prefix (no trailing slash), so an attempt
 * builds its URL and signed target by concatenation instead of parsing a URL per call.
 */
function replicaBase(replicaUrl: string): { origin: string; path: string } {
  let base = bases.get(replicaUrl);
  if (!base) {
    const parsed = new URL(replicaUrl);
    base = { origin: parsed.origin, path: parsed.pathname.replace(/\/+$/, '') };
    if (bases.size >= MAX_BASES) bases.clear();
    bases.set(replicaUrl, base);
  }
  return base;
}

/** The answer as the caller may see it, its body streamed through; one Response, headers built as a record. */
function passThrough(res: Response, extra: Record<string, string> | undefined): Response {
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  if (extra) for (const name in extra) headers[name] = extra[name] as string;
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
}
