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
