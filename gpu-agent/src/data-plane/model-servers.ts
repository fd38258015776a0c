import { INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import type { DeploymentMonitor } from '../monitoring/deployment-monitor.js';
import { InferTimeoutError, ModelWorkerError } from '../onnx/errors.js';
import { type LoadReading, LoadTally } from '../onnx/load-tally.js';
import { type Answer, oipErrorBody } from './answers.js';
import { readStreamLimited } from './body.js';
import type { InferenceMetrics, ModelCounters } from './metrics.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';

/**
 * A custom model-server container serving one replica of a deployment (formats the onnx runtime cannot
 * load: scikit-learn, PyTorch, TensorFlow), reached on its tenant network. It speaks OIP v2 and was told
 * its model's name (the deployment id) in MERIDIAN_MODEL_NAME.
 */
export interface ModelServer {
  workloadId: string;
  /** The deployment id: the name the edge asks for, and the container answers to. */
  name: string;
  /** The model version id it serves. */
  version: string;
  /** `http://<address>:<port>`, no trailing slash. */
  origin: string;
}

/** The model servers this agent runs, by deployment; changes as workloads come and go. */
export class ModelServers {
  private readonly byWorkload = new Map<string, ModelServer>();
  /** Calls being relayed to each server, over time: its load, as the autoscaler reads an onnx replica's. */
  private readonly tallies = new Map<string, { tally: LoadTally; inFlight: number }>();
  /** Aborted when each server exits, ending the calls being relayed to it. */
  private readonly exits = new Map<string, AbortController>();

  add(server: ModelServer): void {
    this.byWorkload.set(server.workloadId, server);
    if (!this.tallies.has(server.workloadId))
      this.tallies.set(server.workloadId, { tally: new LoadTally(), inFlight: 0 });
    if (!this.exits.has(server.workloadId)) this.exits.set(server.workloadId, new AbortController());
  }

  /** No new call goes to the server; calls already relayed to it run out (a graceful stop drains them). */
  remove(workloadId: string): void {
    this.byWorkload.delete(workloadId);
    this.tallies.delete(workloadId);
    this.exits.delete(workloadId);
  }

  /**
   * The server exited on its own: removed, and the calls being relayed to it end now as the replica being
   * down (503), instead of waiting out their timeout on a connection to an address that no longer answers.
   */
  exited(workloadId: string): void {
    this.exits.get(workloadId)?.abort();
    this.remove(workloadId);
  }

  /** Aborted when the server of `workloadId` exits; undefined for one not served here. */
  exitSignal(workloadId: string): AbortSignal | undefined {
    return this.exits.get(workloadId)?.signal;
  }

  /** Counts a call relayed to `workloadId` until the returned function is called. */
  busy(workloadId: string): () => void {
    const entry = this.tallies.get(workloadId);
    if (!entry) return () => {};
    entry.tally.set(++entry.inFlight, 0);
    return () => entry.tally.set(--entry.inFlight, 0);
  }

  /** Each server's load so far, for the agent's load reports (the autoscaler scales on them). */
  loads(): { workloadId: string; load: LoadReading }[] {
    return [...this.tallies].map(([workloadId, entry]) => ({ workloadId, load: entry.tally.read() }));
  }

  /** The newest server of `name` (of `version` when given): a rolling update runs two for a while. */
  get(name: string, version?: string): ModelServer | undefined {
    let found: ModelServer | undefined;
    for (const server of this.byWorkload.values())
      if (server.name === name && (version === undefined || server.version === version)) found = server;
    return found;
  }
}

/** What a relayed request asks of the container. */
export interface RelayedRequest {
  method: 'GET' | 'POST';
  /** After `/v2/models/<name>`: '' (metadata), '/ready' or '/infer'. */
  path: '' | '/ready' | '/infer';
  body?: Uint8Array;
  contentType?: string | undefined;
  headerLength?: string | undefined;
  requestId: string;
}

/** What the data plane relays of a signed request it has read: its body and how to read it, its request id. */
export function relayedRequest(
  header: (name: string) => string | undefined,
  method: RelayedRequest['method'],
  path: RelayedRequest['path'],
  body?: Uint8Array,
): RelayedRequest {
  return {
    method,
    path,
    ...(body === undefined ? {} : { body }),
    contentType: header('content-type'),
    headerLength: header(INFERENCE_HEADER_CONTENT_LENGTH),
    requestId: requestIdOf(header(REQUEST_ID_HEADER)),
  };
}

export interface RelayOptions {
  /** From the request to the end of the answer's body. */
  timeoutMs: number;
  /** A larger answer is refused (502): the container is the tenant's code. */
  maxAnswerBytes: number;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = { timeoutMs: 60_000, maxAnswerBytes: 64 * 1024 * 1024 };

/** Statuses a model server's own refusal keeps: the input's fault, or its load (the edge retries a 503). */
const KEPT_STATUSES = new Set([400, 413, 422, 429, 500, 503]);
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[ -~]{0,200})?$/;

/**
 * Sends a signed and checked request on to the model server that serves it, as `/v2/models/<name>…`, and
 * answers with what it said: its body, content type and Inference-Header-Content-Length on a 2xx (as a
 * 200, the status that is billed); its error message with its status (400, 413, 422, 429, 500, 503) on a
 * refusal; 502 for anything else it answers (a redirect, a 404 for its own name, an oversized answer). A
 * server that cannot be reached is a 503 (the edge tries another replica), one that does not answer in time
 * a 504. One that exits while answering (`exited` aborts) is a 503 at once.
 */
export async function relayToModelServer(
  server: ModelServer,
  request: RelayedRequest,
  options: RelayOptions = DEFAULT_RELAY_OPTIONS,
  exited?: AbortSignal,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  if (request.headerLength !== undefined) headers[INFERENCE_HEADER_CONTENT_LENGTH] = request.headerLength;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = exited ? AbortSignal.any([timeout, exited]) : timeout;
  let response: Response;
  let body: Uint8Array;
  try {
    response = await fetch(`${server.origin}/v2/models/${encodeURIComponent(server.name)}${request.path}`, {
      method: request.method,
      headers,
      ...(request.method === 'POST' ? { body: request.body ?? new Uint8Array() } : {}),
      redirect: 'manual',
      signal,
    });
    body = await readCapped(response, options.maxAnswerBytes);
  } catch (err) {
    if (err instanceof AnswerTooLargeError) return refusal(502, err.message, request.requestId);
    if (exited?.aborted) throw new ModelWorkerError(`the model server of '${server.name}' exited`);
    if (signal.aborted) throw new InferTimeoutError(server.name, options.timeoutMs);
    throw new ModelWorkerError(`the model server of '${server.name}' cannot be reached: ${messageOf(err)}`);
  }
  const { status } = response;
  // Any success is OIP's 200: a 201 or 204 would otherwise leave the agent unbilled (only 200s are journaled).
  if (status >= 200 && status < 300) return { status: 200, headers: answerHeaders(response), body };
  const said = errorMessageOf(body);
  if (KEPT_STATUSES.has(status)) {
    const answer = refusal(status, said ?? `the model server answered ${status}`, request.requestId);
    const retryAfter = response.headers.get('retry-after');
    if (status === 503 && retryAfter !== null && /^\d{1,5}$/.test(retryAfter))
      answer.headers['retry-after'] = retryAfter;
    return answer;
  }
  const detail = said === undefined ? '' : `: ${said}`;
  return refusal(502, `the model server answered ${status}${detail}`, request.requestId);
}

/**
 * An infer call relayed to its model server, counted in the server's load (the autoscaler's signal), in
 * the deployment's monitoring (status and time: the server's queue and compute are one figure to the agent,
 * reported as compute) and in the version's Triton metrics and statistics, like an onnx call. The server
 * batches (or not) out of sight: each call it answers counts as one inference and one execution.
 */
export async function relayInfer(
  servers: ModelServers,
  server: ModelServer,
  request: RelayedRequest,
  observers: {
    monitor?: Pick<DeploymentMonitor, 'observe'> | undefined;
    metrics?: InferenceMetrics | undefined;
  },
  options: RelayOptions = DEFAULT_RELAY_OPTIONS,
): Promise<Answer> {
  const { monitor } = observers;
  const counters = observers.metrics?.forModel(server.name, server.version);
  const started = performance.now();
  const done = servers.busy(server.workloadId);
  try {
    const answer = await relayToModelServer(server, request, options, servers.exitSignal(server.workloadId));
    const us = (performance.now() - started) * 1000;
    monitor?.observe(server.name, server.version, answer.status, 0, us);
    if (counters) countRelayed(counters, answer.status === 200, us);
    return answer;
  } catch (err) {
    monitor?.observe(server.name, server.version, err instanceof InferTimeoutError ? 504 : 503, 0, 0);
    if (counters) countRelayed(counters, false, (performance.now() - started) * 1000);
    throw err;
  } finally {
    done();
  }
}

/** One relayed call in the version's counters: a success is one inference, run as one execution. */
function countRelayed(counters: ModelCounters, ok: boolean, us: number): void {
  if (ok) {
    counters.success.inc();
    counters.count.inc();
    counters.execCount.inc();
    counters.requestUs.inc(us);
    counters.computeUs.inc(us);
  } else {
    counters.failure.inc();
    counters.failureUs.inc(us);
  }
  counters.lastInferenceMs = Date.now();
}

/** Only what a caller reads: a well-formed content type and binary header length; nothing else passes. */
function answerHeaders(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  const type = response.headers.get('content-type');
  headers['content-type'] = type !== null && CONTENT_TYPE.test(type) ? type : 'application/octet-stream';
  const length = response.headers.get(INFERENCE_HEADER_CONTENT_LENGTH);
  if (length !== null && /^\d{1,10}$/.test(length)) headers[INFERENCE_HEADER_CONTENT_LENGTH] = length;
  return headers;
}

class AnswerTooLargeError extends Error {}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () =>
    new AnswerTooLargeError(`the model server's answer is larger than ${maxBytes} bytes`);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  return response.body ? readStreamLimited(response.body, maxBytes, tooLarge) : new Uint8Array();
}

/** An OIP error's message (`{"error": "…"}`), shortened; undefined when the body is not one. */
function errorMessageOf(body: Uint8Array): string | undefined {
  if (body.byteLength === 0 || body.byteLength > 64 * 1024) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error.slice(0, 1000) : undefined;
  } catch {
    return undefined;
  }
}

function refusal(status: number, message: string, requestId: string): Answer {
  const error = oipErrorBody(status, message, requestId);
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: new TextEncoder().encode(JSON.stringify(error)),
  };
}

const messageOf = (err: unknown) =>
  err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);

/**
 * The model server that serves `name` (and `version`) on this agent, when no onnx session here does: the
 * data plane then relays the call to it instead of running it.
 */
export function modelServerFor(
  registries: { models: { get(name: string, version?: string): unknown }; modelServers?: ModelServers },
  name: string,
  version: string | undefined,
): ModelServer | undefined {
  // The servers first: an agent without any (most) pays one empty lookup per call, not a second model lookup.
  const server = registries.modelServers?.get(name, version);
  return server && !registries.models.get(name, version) ? server : undefined;
}
