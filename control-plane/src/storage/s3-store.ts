import { pipeline, type Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type {
  CompletedPart,
  ObjectBody,
  ObjectStore,
  PresignedPart,
  StoredObject,
  StoredPart,
} from './object-store.js';

export interface S3StoreOptions {
  /** A custom endpoint (MinIO, R2, Swift s3api); AWS when unset. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Static keys; the SDK's default provider chain when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key`: MinIO and Swift need it. */
  forcePathStyle?: boolean;
  /** MaxKeys of one ListObjectsV2 page (S3's own default is 1000). */
  listPageSize?: number;
}

const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

/**
 * The S3 adapter. Bodies stream through lib-storage's Upload (8 MiB parts, 4 in flight, so at most ~32 MiB
 * buffered), signed URLs come from the SDK's presigner, and a missing key reads as undefined.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly secret: string | undefined;
  private readonly listPageSize: number | undefined;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.secret = options.credentials?.secretAccessKey;
    this.listPageSize = options.listPageSize;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      // Checksums only where S3 demands them: presigned part URLs must not require checksum headers a
      // plain `fetch` PUT does not send, and R2 / Swift do not know the newer checksum algorithms.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Runs one SDK call; an error keeps its name and status but never carries the secret in its message. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (this.secret && err instanceof Error && err.message.includes(this.secret)) {
        err.message = err.message.replaceAll(this.secret, '[redacted]');
      }
      throw err;
    }
  }

  /** Creates the bucket when it does not exist yet: for dev and tests; production buckets are provisioned. */
  async ensureBucket(): Promise<void> {
    try {
      await this.call(() => this.client.send(new CreateBucketCommand({ Bucket: this.bucket })));
    } catch (err) {
      const name = errorName(err);
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
  }

  async put(
    key: string,
    body: Readable,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<StoredObject> {
    let sizeBytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.length;
        callback(null, chunk);
      },
    });
    // An error in `body` destroys `counter` with it, which fails the Upload and aborts its multipart upload.
    pipeline(body, counter, () => {});
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counter, ContentType: options.contentType },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const onAbort = () => {
      counter.destroy(new Error('The upload was aborted'));
      upload.abort().catch(() => {}); // done() rejects with the reason; nothing more to report
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.call(() => upload.done());
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return { key, sizeBytes };
  }

  async get(key: string, range?: { start: number; end: number }): Promise<ObjectBody | undefined> {
    try {
      const res = await this.call(() =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        ),
      );
      // In Node the SDK's body is an IncomingMessage, a Readable.
      const body = res.Body as Readable | undefined;
      if (!body) throw new Error(`S3 returned no body for ${key}`);
      return { body, sizeBytes: res.ContentLength ?? 0, contentType: res.ContentType };
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const res = await this.call(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
      );
      return { key, sizeBytes: res.ContentLength ?? 0 };
    } catch (err) {
      const name = errorName(err);
      if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.call(() =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield { key: object.Key, sizeBytes: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  async createMultipartUpload(key: string): Promise<{ uploadId: string }> {
    const res = await this.call(() =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key })),
    );
    if (!res.UploadId) throw new Error('S3 returned no UploadId');
    return { uploadId: res.UploadId };
  }

  async presignUploadParts(
    key: string,
    uploadId: string,
    partCount: number,
    expiresInSeconds: number,
  ): Promise<PresignedPart[]> {
    const numbers = Array.from({ length: partCount }, (_, i) => i + 1);
    return Promise.all(
      numbers.map(async (partNumber) => {
        const command = new UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
        });
        return { partNumber, url: await getSignedUrl(this.client, command, { expiresIn: expiresInSeconds }) };
      }),
    );
  }

  async listUploadParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call(() =>
        this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: marker,
          }),
        ),
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber === undefined || !part.ETag) continue;
        parts.push({ partNumber: part.PartNumber, etag: part.ETag, sizeBytes: part.Size ?? 0 });
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return parts;
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: CompletedPart[],
  ): Promise<StoredObject> {
    await this.call(() =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      ),
    );
    const head = await this.head(key);
    if (!head) throw new Error(`Completed upload ${uploadId} but ${key} is missing`);
    return head;
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.call(() =>
        this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
        ),
      );
    } catch (err) {
      if (errorName(err) !== 'NoSuchUpload') throw err;
    }
  }

  /** Closes the SDK's connection pool. */
  close(): void {
    this.client.destroy();
  }
}
