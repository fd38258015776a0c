/**
 * Why a model could not be made available from the cache. `network` and `http` (5xx, 429) are worth a
 * retry; `integrity` means the bytes served are not the version's bytes; `budget` means pinned models
 * fill the disk budget and nothing can be evicted.
 */
export type ModelCacheErrorKind = 'network' | 'http' | 'integrity' | 'budget' | 'invalid';

export class ModelCacheError extends Error {
  readonly kind: ModelCacheErrorKind;
  readonly status: number | undefined;

  constructor(
    kind: ModelCacheErrorKind,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ModelCacheError';
    this.kind = kind;
    this.status = options.status;
  }

  /** Whether the same call may succeed later without anything else changing. */
  get retryable(): boolean {
    if (this.kind === 'network') return true;
    return this.kind === 'http' && this.status !== undefined && (this.status >= 500 || this.status === 429);
  }
}
