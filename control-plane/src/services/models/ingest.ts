import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { inspectOnnxFile, type OnnxInspection } from '../../onnx/inspect.js';

/** More bytes arrived than the configured model size limit allows. */
export class ModelTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`A model file may be at most ${maxBytes} bytes`);
    this.name = 'ModelTooLargeError';
  }
}

/**
 * A pass-through that counts and hashes every byte, fails once more than `maxBytes` have passed, and copies
 * each chunk into `copy` when given. It waits for `copy` to drain before taking the next chunk, so the
 * slower of the two destinations sets the pace and nothing piles up in memory.
 */
class DigestStream extends Transform {
  private readonly hash = createHash('sha256');
  sizeBytes = 0;
  failure: ModelTooLargeError | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly copy: Writable | undefined,
  ) {
    // Room for a few network chunks each way, so a short stall on either side does not stop the other.
    super({ highWaterMark: 1024 * 1024 });
    copy?.on('error', (err) => this.destroy(err));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    if (this.sizeBytes > this.maxBytes) {
      this.failure = new ModelTooLargeError(this.maxBytes);
      callback(this.failure);
      return;
    }
    this.hash.update(chunk);
    if (this.copy && !this.copy.write(chunk)) this.copy.once('drain', () => callback(null, chunk));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.copy) {
      callback();
      return;
    }
    this.copy.end();
    finished(this.copy).then(() => callback(), callback);
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

export interface IngestOptions {
  maxBytes: number;
  /** Load the bytes with onnxruntime once they have all passed (they are copied to a temp file for it). */
  inspectOnnx: boolean;
  /** Where the bytes go: the object store's put, or a drain when re-reading a stored object. */
  consume: (body: Readable) => Promise<unknown>;
  tempRoot?: string;
}

export interface Ingested {
  sizeBytes: number;
  sha256: string;
  inspection: OnnxInspection | undefined;
}

/**
 * Streams `source` into `consume` while computing its size and sha256, never holding more than a few chunks.
 * Throws ModelTooLargeError past the limit (before `consume` can finish), or whatever failed first. On
 * failure `source` is left unpiped but open: the caller decides whether to close it.
 */
export async function ingest(source: Readable, options: IngestOptions): Promise<Ingested> {
  const dir = options.inspectOnnx
    ? await mkdtemp(join(options.tempRoot ?? tmpdir(), 'meridian-model-'))
    : undefined;
  const copyPath = dir ? join(dir, 'model.onnx') : undefined;
  const copy = copyPath ? createWriteStream(copyPath, { flags: 'wx' }) : undefined;
  try {
    const digest = new DigestStream(options.maxBytes, copy);
    // Its errors reach the caller through `consume` (and `failure`); this only keeps them from being uncaught.
    digest.on('error', () => {});
    const consuming = options.consume(digest).catch((err: unknown) => {
      // A consumer that fails without reading must not leave the source waiting on a full buffer.
      digest.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    // Piped rather than pipelined: a failure must not destroy the source, which for an HTTP upload is the
    // request, so the connection stays up long enough to carry the 413 or 422 that explains it.
    const onSourceError = (err: Error) => digest.destroy(err);
    source.once('error', onSourceError);
    source.pipe(digest);
    try {
      await consuming;
    } catch (err) {
      source.unpipe(digest);
      throw digest.failure ?? err;
    } finally {
      source.off('error', onSourceError);
    }
    const inspection = copyPath ? await inspectOnnxFile(copyPath) : undefined;
    return { sizeBytes: digest.sizeBytes, sha256: digest.sha256(), inspection };
  } finally {
    copy?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** A consumer that reads and discards: for verifying an object already in the store. */
export function discard(body: Readable): Promise<void> {
  return pipeline(
    body,
    new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    }),
  );
}
