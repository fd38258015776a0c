// Bundled into the published SDK (one module that imports nothing): the table the control plane's 415 uses.
import { modelFileRefusal as refusalOf } from '@meridian/protocol/model-files';
import type { MeridianClient } from './client.js';
import { errorFromResponse, UnsupportedModelFormatError } from './errors.js';
import type { Schema } from './types.js';

/** Bytes to upload, read a range at a time (a file, a Blob, memory), so no file is held whole. */
export interface UploadSource {
  name: string;
  size: number;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** An UploadSource over bytes in memory or a Blob (a browser File too). */
export function memorySource(name: string, data: Uint8Array | Blob): UploadSource {
  return {
    name,
    size: data instanceof Uint8Array ? data.byteLength : data.size,
    read: async (start, end) =>
      data instanceof Uint8Array
        ? data.subarray(start, end)
        : new Uint8Array(await data.slice(start, end).arrayBuffer()),
  };
}

export interface UploadProgress {
  /** Bytes stored so far, parts kept from an earlier attempt included. */
  doneBytes: number;
  totalBytes: number;
  /** Bytes of parts found already stored when this attempt began (a resume). */
  resumedBytes: number;
}

/** What a multipart upload needs to be resumed by another process: keep it until the upload completes. */
export interface UploadCheckpoint {
  modelId: string;
  version: number;
  /**
   * The version's id (mdv_…). A refused or deleted upload gives its number back, so by the time this one
   * resumes the number may be another upload's; the id tells them apart. Absent from older checkpoints.
   */
  versionId?: string;
  partSize: number;
  partCount: number;
  size: number;
}

export interface UploadOptions {
  /** The model's id (mdl_…). */
  modelId: string;
  source: UploadSource;
  description?: string;
  /** The training run the model came from (run_…): the version then names it, and the run lists the version. */
  runId?: string;
  /**
   * The version's tags and metadata. A multipart upload sends them when it starts; a file small enough for
   * one request gets them in a second call once stored (the one-request upload takes neither).
   */
  tags?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Continue this earlier multipart upload instead of starting one; its parts already stored are kept. */
  resume?: UploadCheckpoint;
  /** Told once the multipart upload exists, before any part is sent. */
  onCheckpoint?: (checkpoint: UploadCheckpoint) => void | Promise<void>;
  onProgress?: (progress: UploadProgress) => void;
  /** Bytes per part, at least 5 MiB (S3's floor); default 8 MiB. Files no larger go in one request. */
  partSize?: number;
  /** Parts in flight at once, a whole number from 1 to 16; default 3. */
  concurrency?: number;
  signal?: AbortSignal;
}

const MiB = 1024 * 1024;
export const DEFAULT_PART_SIZE = 8 * MiB;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
const MAX_CONCURRENCY = 16;

type ModelVersion = Schema<'ModelVersion'>;

/**
 * Why the API would refuse a model file of this name for its format (the words of its 415), or undefined
 * when the name ends in one it takes (.onnx, .pt, .pkl, …).
 */
export function modelFileRefusal(fileName: string): string | undefined {
  return refusalOf(fileName);
}

/**
 * Uploads a model version: one streamed request for a small file; otherwise a multipart upload straight to
 * storage (presigned part URLs), resumable from a checkpoint, with progress as parts are stored. A file whose
 * name announces no format the API takes is refused first (UnsupportedModelFormatError), with nothing sent.
 */
export async function uploadModelVersion(
  client: MeridianClient,
  options: UploadOptions,
): Promise<ModelVersion> {
  const { source } = options;
  const { concurrency = 3 } = options;
  const refusal = modelFileRefusal(source.name);
  if (refusal !== undefined)
    throw new UnsupportedModelFormatError(415, 'unsupported_media_type', refusal, undefined);
  // Checked before anything is sent: 0 or NaN started no worker, and the upload then completed with no part.
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY)
    throw new RangeError(
      `concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, not ${concurrency}`,
    );
  const partSize = Math.max(
    MIN_PART_SIZE,
    options.partSize ?? DEFAULT_PART_SIZE,
    Math.ceil(source.size / MAX_PARTS),
  );
  if (!options.resume && source.size <= partSize) return uploadWhole(client, options);
  const partCount = options.resume?.partCount ?? Math.max(1, Math.ceil(source.size / partSize));
  const plan = options.resume
    ? await resumeUpload(client, options.resume)
    : await startUpload(client, options, partCount, partSize);
  const size = (n: number) => Math.min(plan.partSize, source.size - (n - 1) * plan.partSize);
  const etags = new Map<number, string>(plan.stored.map((p) => [p.partNumber, p.etag]));
  const resumedBytes = plan.stored.reduce((sum, p) => sum + size(p.partNumber), 0);
  let doneBytes = resumedBytes;
  const report = () => options.onProgress?.({ doneBytes, totalBytes: source.size, resumedBytes });
  report();
  const queue = [...plan.urls];
  // One failed part stops the others: nothing keeps uploading after this call has thrown.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const worker = async () => {
    for (let part = queue.shift(); part && !signal.aborted; part = queue.shift()) {
      const start = (part.partNumber - 1) * plan.partSize;
      const bytes = await source.read(start, start + size(part.partNumber));
      const res = await client.send(part.url, {
        method: 'PUT',
        body: bytes as Uint8Array<ArrayBuffer>,
        signal,
      });
      if (!res.ok) throw await errorFromResponse(res);
      await res.body?.cancel();
      etags.set(part.partNumber, res.headers.get('etag') ?? '');
      doneBytes += bytes.byteLength;
      report();
    }
  };
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, () =>
    worker().catch((error: unknown) => {
      failure ??= { error };
      stop.abort();
    }),
  );
  await Promise.all(workers);
  if (failure) throw failure.error;
  options.signal?.throwIfAborted();
  const parts = [...etags]
    .map(([partNumber, etag]) => ({ partNumber, etag }))
    .sort((a, b) => a.partNumber - b.partNumber);
  // Named by id too: were this upload refused or deleted meanwhile, its number may be another upload's (409).
  return client.request('post', '/v1/models/{id}/versions/{version}/complete', {
    path: { id: plan.modelId, version: plan.version },
    body: { versionId: plan.versionId, parts },
  });
}

interface Plan {
  modelId: string;
  version: number;
  versionId: string;
  partSize: number;
  stored: { partNumber: number; etag: string }[];
  urls: { partNumber: number; url: string }[];
}

async function startUpload(
  client: MeridianClient,
  options: UploadOptions,
  partCount: number,
  partSize: number,
): Promise<Plan> {
  const started = await client.request('post', '/v1/models/{id}/versions/uploads', {
    path: { id: options.modelId },
    body: {
      filename: options.source.name,
      sizeBytes: options.source.size,
      partCount,
      ...(options.description ? { description: options.description } : {}),
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    },
  });
  const checkpoint = {
    modelId: options.modelId,
    version: started.version.version,
    versionId: started.version.id,
    partSize,
    partCount,
    size: options.source.size,
  };
  await options.onCheckpoint?.(checkpoint);
  return {
    modelId: options.modelId,
    version: checkpoint.version,
    versionId: checkpoint.versionId,
    partSize,
    stored: [],
    urls: started.parts,
  };
}

async function resumeUpload(client: MeridianClient, checkpoint: UploadCheckpoint): Promise<Plan> {
  const listed = await client.request('get', '/v1/models/{id}/versions/{version}/parts', {
    path: { id: checkpoint.modelId, version: checkpoint.version },
    query: {
      partCount: String(checkpoint.partCount),
      // The API refuses (409) once the number is another upload's; a checkpoint kept before ids has none.
      ...(checkpoint.versionId !== undefined ? { versionId: checkpoint.versionId } : {}),
    },
  });
  // Another upload's parts must never be mixed with this one's (an API from before it checked the id itself).
  if (checkpoint.versionId !== undefined && listed.version.id !== checkpoint.versionId)
    throw new Error(
      `Version ${checkpoint.version} is no longer the upload this checkpoint was kept for: start the upload again`,
    );
  return {
    modelId: checkpoint.modelId,
    version: checkpoint.version,
    // From here on the upload is named by id, an old checkpoint's too: the one just listed.
    versionId: listed.version.id,
    partSize: checkpoint.partSize,
    stored: listed.stored,
    urls: listed.parts,
  };
}

async function uploadWhole(client: MeridianClient, options: UploadOptions): Promise<ModelVersion> {
  const { source } = options;
  options.onProgress?.({ doneBytes: 0, totalBytes: source.size, resumedBytes: 0 });
  const signal = options.signal ? { signal: options.signal } : {};
  let version = await client.request('post', '/v1/models/{id}/versions', {
    path: { id: options.modelId },
    query: {
      filename: source.name,
      ...(options.description ? { description: options.description } : {}),
      ...(options.runId ? { runId: options.runId } : {}),
    },
    raw: {
      body: (await source.read(0, source.size)) as Uint8Array<ArrayBuffer>,
      contentType: 'application/octet-stream',
    },
    ...signal,
  });
  options.onProgress?.({ doneBytes: source.size, totalBytes: source.size, resumedBytes: 0 });
  if (options.tags || options.metadata) {
    version = await client.request('patch', '/v1/models/{id}/versions/{version}', {
      path: { id: options.modelId, version: version.version },
      body: {
        ...(options.tags ? { tags: options.tags } : {}),
        ...(options.metadata ? { metadata: options.metadata } : {}),
      },
      ...signal,
    });
  }
  return version;
}
