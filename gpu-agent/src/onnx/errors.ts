/** Errors the onnx runtime raises for one request; the data plane maps each to an HTTP status. */
export class InferInputError extends Error {
  override name = 'InferInputError';
}

/** The model's queue is full: try again after `retryAfterSeconds`. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    readonly model: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`model '${model}' has too many queued requests; retry later`);
  }
}

/** The request spent longer than its timeout waiting for or running inference. */
export class InferTimeoutError extends Error {
  override name = 'InferTimeoutError';
  constructor(
    readonly model: string,
    timeoutMs: number,
  ) {
    super(`model '${model}' did not answer within ${timeoutMs} ms`);
  }
}

/** A model's session worker died (crash, restart) while it held this request: retry it. */
export class ModelWorkerError extends Error {
  override name = 'ModelWorkerError';
}

/**
 * onnxruntime failed while running a request that passed the signature checks, e.g. a broadcast inside
 * the graph that the input's dimensions cannot take. `inputCaused` says the message is about the input
 * (a shape, a dimension, a type), so the caller answers 400 with it; anything else is the model's or
 * onnxruntime's own failure (500, with the message too).
 */
export class ModelRunError extends Error {
  override name = 'ModelRunError';
  constructor(
    message: string,
    readonly inputCaused: boolean,
  ) {
    super(message);
  }
}

// onnxruntime's INVALID_ARGUMENT and shape errors: what its kernels and its input checks say when the
// tensors they were given cannot be used (the binding gives the message only, not the status code).
const INPUT_CAUSED =
  /broadcast|shape|dimension|rank|invalid (argument|input)|unexpected input|index|out of (range|bounds)|size|mismatch/i;

// Build paths in onnxruntime's messages (`/onnxruntime_src/…/element_wise_ops.h:563 `) mean nothing to a caller.
const SOURCE_LOCATION = /\/\S*onnxruntime_src\/\S+:\d+\s+/g;

/** An error thrown by onnxruntime's session.run, as the ModelRunError a request answers with. */
export function modelRunError(err: unknown): ModelRunError {
  if (err instanceof ModelRunError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const message = `onnxruntime: ${raw.replace(SOURCE_LOCATION, '').trim()}`;
  return new ModelRunError(message, INPUT_CAUSED.test(raw));
}
