import type { Readable } from 'node:stream';

/** Result of an I/O call against storage, so callers can tell a missing object from a failing store. */
export interface StoredObject {
  key: string;
  sizeBytes: number;
}

export interface ObjectBody {
  body: Readable;
  sizeBytes: number;
  contentType: string | undefined;
}

export interface PresignedPart {
  partNumber: number;
  url: string;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** A part an open multipart upload already holds. */
export interface StoredPart extends CompletedPart {
  sizeBytes: number;
}

/**
 * Where model files and run artifacts live. Two adapters pass one contract suite: S3 (AWS, R2, MinIO,
 * Swift s3api; path-style and custom endpoints) and a local filesystem store (the embedded default).
 * Keys are built by callers from ids only (`objectKeys`), never from user-supplied names.
 */
export interface ObjectStore {
  /** Streams `body` into `key` without buffering it whole; resolves once the object is durable. */
  put(
    key: string,
    body: Readable,
    options?: { contentType?: string; signal?: AbortSignal },
  ): Promise<StoredObject>;
  /** undefined when the object does not exist. `range` is inclusive, as in HTTP. */
  get(key: string, range?: { start: number; end: number }): Promise<ObjectBody | undefined>;
  head(key: string): Promise<StoredObject | undefined>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<StoredObject>;
  /** A URL anyone holding it can GET until it expires; the holder needs no storage credentials. */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /** Starts a multipart upload the client completes with presigned part URLs. */
  createMultipartUpload(key: string): Promise<{ uploadId: string }>;
  presignUploadParts(
    key: string,
    uploadId: string,
    partCount: number,
    expiresInSeconds: number,
  ): Promise<PresignedPart[]>;
  /** The parts an open upload holds, by part number, so a client can resume without sending them again. */
  listUploadParts(key: string, uploadId: string): Promise<StoredPart[]>;
  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<StoredObject>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
}

/** An id as minted by `newId`: letters, digits, `_` and `-` only, so no key segment can be `..` or empty. */
function id(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new Error(`Not an id: ${JSON.stringify(value)}`);
  return value;
}

/** Object keys, built only from ids. */
export const objectKeys = {
  modelVersion: (orgId: string, modelId: string, versionId: string) =>
    `orgs/${id(orgId)}/models/${id(modelId)}/versions/${id(versionId)}/model`,
  runArtifact: (orgId: string, runId: string, artifactId: string) =>
    `orgs/${id(orgId)}/runs/${id(runId)}/artifacts/${id(artifactId)}`,
};
