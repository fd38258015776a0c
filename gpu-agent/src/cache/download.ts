import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { ModelCacheError } from './errors.js';

/** Where a model version's bytes are and what they must be. `url` is signed: the agent holds no S3 keys. */
export interface ModelSource {
  url: string;
  sha256: string;
  sizeBytes: number;
}

export interface DownloadProgress {
  receivedBytes: number;
  totalBytes: number;
}

export interface DownloadOptions {
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** Filesystem failures (ENOSPC, EACCES) carry a syscall; a failing socket does not. */
const isFsError = (err: unknown) => err instanceof Error && 'syscall' in err;

/** Passes bytes on while hashing and counting them; fails as soon as more than `maxBytes` arrive. */
function meter(
  maxBytes: number,
  onBytes: (received: number) => void,
): { stream: Transform; digest: () => string } {
  const hash = createHash('sha256');
  let received = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) {
        callback(
          new ModelCacheError('integrity', `The download is larger than the expected ${maxBytes} bytes`),
        );
        return;
      }
      hash.update(chunk);
      onBytes(received);
      callback(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

async function request(source: ModelSource, options: DownloadOptions): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(source.url, { signal: options.signal });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ModelCacheError('network', `Could not reach the model URL: ${String(err)}`, { cause: err });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new ModelCacheError('http', `The model URL answered ${response.status}`, {
      status: response.status,
    });
  }
  const length = response.headers.get('content-length');
  if (length !== null && Number(length) !== source.sizeBytes) {
    await response.body.cancel();
    throw new ModelCacheError(
      'integrity',
      `The model URL serves ${length} bytes, the version has ${source.sizeBytes}`,
    );
  }
  return response;
}

/**
 * Streams `source.url` into `tempPath` (created, never overwritten) while hashing, fsyncs it, and checks
 * size and sha256. The file is never held in memory. On any failure `tempPath` is removed and the error
 * thrown; on success the caller renames `tempPath` into place.
 */
export async function downloadVerified(
  source: ModelSource,
  tempPath: string,
  options: DownloadOptions = {},
): Promise<void> {
  try {
    const response = await request(source, options);
    const body = response.body as NodeWebReadableStream<Uint8Array>;
    const metered = meter(source.sizeBytes, (receivedBytes) =>
      options.onProgress?.({ receivedBytes, totalBytes: source.sizeBytes }),
    );
    try {
      await pipeline(Readable.fromWeb(body), metered.stream, createWriteStream(tempPath, { flags: 'wx' }), {
        signal: options.signal,
      });
    } catch (err) {
      if (err instanceof ModelCacheError || isFsError(err) || options.signal?.aborted) throw err;
      throw new ModelCacheError('network', `The model download broke off: ${String(err)}`, { cause: err });
    }
    const handle = await open(tempPath, 'r+');
    try {
      await handle.sync();
      const { size } = await handle.stat();
      if (size !== source.sizeBytes) {
        throw new ModelCacheError(
          'integrity',
          `Downloaded ${size} bytes, the version has ${source.sizeBytes}`,
        );
      }
    } finally {
      await handle.close();
    }
    const actual = metered.digest();
    if (actual !== source.sha256) {
      throw new ModelCacheError('integrity', `Downloaded sha256 ${actual}, the version has ${source.sha256}`);
    }
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }
}

/** sha256 of a file, streamed. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
