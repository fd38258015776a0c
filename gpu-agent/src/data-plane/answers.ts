import {
  CALLER_MODEL_HEADERS,
  CALLER_NAMED_HEADER,
  type ErrorCode,
  errorCodeForStatus,
  INFERENCE_HEADER_CONTENT_LENGTH,
  OipCodecError,
  type OipError,
  REPLICA_DOWN_HEADER,
} from '@meridian/protocol';
import type { Logger } from '../agent/logger.js';
import type { DeploymentMonitor } from '../monitoring/deployment-monitor.js';
import {
  InferInputError,
  InferTimeoutError,
  ModelRunError,
  ModelWorkerError,
  QueueFullError,
} from '../onnx/errors.js';
import { KeyNotYetKnownError, SignatureError } from './auth.js';
import { BodyIncompleteError, BodyTooLargeError } from './body.js';
import { type CallerNames, inferOip } from './infer.js';
import type { InferenceMetrics } from './metrics.js';
import type { ModelRegistry, ServedModel } from './models.js';

/** A response before it is written, the same for the hono app and the Node fast path. */
export type Answer = { status: number; headers: Record<string, string>; body: Uint8Array };

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The model a route names, or NotFoundError (404). */
export function findModel(models: ModelRegistry, name: string, version: string | undefined): ServedModel {
  const model = models.get(name, version);
  if (!model) throw new NotFoundError(`model '${name}'${version ? ` version '${version}'` : ''} not found`);
  return model;
}

function statusOf(err: unknown): {
  status: 400 | 401 | 404 | 413 | 500 | 503 | 504;
  headers?: Record<string, string>;
} {
  if (err instanceof OipCodecError || err instanceof InferInputError || err instanceof BodyIncompleteError)
    return { status: 400 };
  if (err instanceof ModelRunError) return { status: err.inputCaused ? 400 : 500 };
  if (err instanceof SignatureError) return { status: 401 };
  if (err instanceof KeyNotYetKnownError)
    return { status: 503, headers: { 'retry-after': '1', [REPLICA_DOWN_HEADER]: '1' } };
  if (err instanceof NotFoundError) return { status: 404 };
  if (err instanceof BodyTooLargeError) return { status: 413, headers: { connection: 'close' } };
  if (err instanceof QueueFullError)
    return { status: 503, headers: { 'retry-after': String(err.retryAfterSeconds) } };
  if (err instanceof InferTimeoutError) return { status: 504 };
  // The model's worker died under this request and is starting again, or its model server cannot be reached:
  // the replica is down, not busy, and the edge holds the call until it serves again or is replaced.
  if (err instanceof ModelWorkerError)
    return { status: 503, headers: { 'retry-after': '1', [REPLICA_DOWN_HEADER]: '1' } };
  return { status: 500 };
}

/** What an error answer and its log line say about the request that failed. */
export type FailedRequest = { requestId: string; model?: { name: string; version: string } };

/** OIP's error body as the agent answers it: the message, with the error code and request id beside it. */
export type OipErrorBody = OipError & { code: ErrorCode; requestId: string };

/** The error body of an answer of `status`, as the edge writes its own: clients read `code` on every error. */
export function oipErrorBody(status: number, message: string, requestId: string): OipErrorBody {
  return { error: message, code: errorCodeForStatus(status), requestId };
}

/**
 * The OIP error envelope for a failure, `{"error": "<message>", "code", "requestId"}`. Internal errors are
 * answered without detail; they and onnxruntime's failures are logged once, as one JSON line.
 */
export function errorAnswer(err: unknown, request: FailedRequest, log: Logger): Answer {
  const { status, headers } = statusOf(err);
  const known = status !== 500 || err instanceof ModelRunError;
  const message = known ? (err instanceof Error ? err.message : String(err)) : 'internal error';
  if (status === 500 || err instanceof ModelRunError)
    log.error('inference request failed', {
      requestId: request.requestId,
      status,
      ...(request.model ? { model: request.model.name, version: request.model.version } : {}),
      error: err instanceof Error ? err.message : String(err),
      ...(known || !(err instanceof Error) ? {} : { stack: err.stack }),
    });
  const body = oipErrorBody(status, message, request.requestId);
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: new TextEncoder().encode(JSON.stringify(body)),
  };
}

/** Longer caller names are ignored (the answer keeps the ids, and the edge rewrites it). */
const MAX_CALLER_NAME = 256;

/** The caller's names for the model, when the edge sent both (CALLER_MODEL_HEADERS). */
export function callerNamesOf(header: (name: string) => string | undefined): CallerNames | undefined {
  const name = header(CALLER_MODEL_HEADERS.name);
  const version = header(CALLER_MODEL_HEADERS.version);
  if (name === undefined || version === undefined) return undefined;
  if (name === '' || name.length > MAX_CALLER_NAME || version.length > MAX_CALLER_NAME) return undefined;
  return { name, version };
}

/**
 * Runs one signed, read infer request and counts it in the model's Triton metrics. With `names`, the answer
 * names the model as the caller did and says so (CALLER_NAMED_HEADER).
 */
export async function answerInfer(
  model: ServedModel,
  metrics: InferenceMetrics,
  body: Uint8Array,
  inferenceHeaderLength: string | undefined,
  monitor?: DeploymentMonitor,
  lowPriority = false,
  names?: CallerNames,
): Promise<Answer> {
  const counters = metrics.forModel(model.name, model.version);
  const started = performance.now();
  try {
    const headerLength = inferenceHeaderLength === undefined ? undefined : Number(inferenceHeaderLength);
    const out = await inferOip(model, body, headerLength, monitor, lowPriority, names);
    monitor?.observe(model.name, model.version, 200, out.queueUs, out.computeUs);
    counters.success.inc();
    counters.requestUs.inc((performance.now() - started) * 1000);
    counters.queueUs.inc(out.queueUs);
    counters.computeUs.inc(out.computeUs);
    counters.lastInferenceMs = Date.now();
    const headers: Record<string, string> =
      out.headerLength === undefined
        ? { 'content-type': 'application/json' }
        : {
            'content-type': 'application/octet-stream',
            [INFERENCE_HEADER_CONTENT_LENGTH]: String(out.headerLength),
          };
    if (names) headers[CALLER_NAMED_HEADER] = '1';
    return { status: 200, headers, body: out.body };
  } catch (err) {
    counters.failure.inc();
    counters.failureUs.inc((performance.now() - started) * 1000);
    counters.lastInferenceMs = Date.now();
    monitor?.observe(model.name, model.version, statusOf(err).status, 0, 0);
    throw err;
  }
}
