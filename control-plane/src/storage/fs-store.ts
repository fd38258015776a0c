import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type {
  CompletedPart,
  ObjectBody,
  ObjectStore,
  PresignedPart,
  StoredObject,
  StoredPart,
} from './object-store.js';

const KEY_CHARS = /^[A-Za-z0-9_./-]+$/;
const UPLOAD_ID = /^[a-f0-9]{32}$/;
const UPLOADS_DIR = '.uploads';

/**
 * Whether `key` is safe to resolve under the store root: ids-only characters, relative, no `..`, and no
 * segment starting with `.` (those names are the store's own temp files and upload dirs).
 */
export function isValidObjectKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024 || !KEY_CHARS.test(key) || key.includes('..')) return false;
  return key.split('/').every((segment) => segment.length > 0 && !segment.startsWith('.'));
}

function assertKey(key: string): void {
  if (!isValidObjectKey(key)) throw new Error(`Invalid object key: ${JSON.stringify(key)}`);
}

/** What a signed storage URL authorises: a GET of one object, or a PUT of one part of one upload. */
export type SignedAction =
  | { method: 'GET'; key: string }
  | { method: 'PUT'; key: string; uploadId: string; partNumber: number };

function canonical(action: SignedAction, expires: number): string {
  const parts =
    action.method === 'GET'
      ? ['GET', action.key]
      : ['PUT', action.key, action.uploadId, String(action.partNumber)];
  return [...parts, String(expires)].join('\n');
}

/** Hex HMAC-SHA256 over the action and its expiry (unix seconds). */
export function signStorageAction(secret: string, action: SignedAction, expires: number): string {
  return createHmac('sha256', secret).update(canonical(action, expires)).digest('hex');
}

/** Checks a signed URL's `expires` and `signature` query values; constant-time on the signature. */
export function verifyStorageSignature(
  secret: string,
  action: SignedAction,
  expires: string | undefined,
  signature: string | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
): 'ok' | 'missing' | 'invalid' | 'expired' {
  if (!expires || !signature) return 'missing';
  if (!/^\d{1,12}$/.test(expires) || !/^[a-f0-9]{64}$/.test(signature)) return 'invalid';
  const expected = Buffer.from(signStorageAction(secret, action, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'invalid';
  return Number(expires) < nowSeconds ? 'expired' : 'ok';
}

/** Fails the stream once more than `maxBytes` pass through it. */
function byteCap(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new PartTooLargeError(maxBytes));
      else callback(null, chunk);
    },
  });
}

export class PartTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The part is larger than ${maxBytes} bytes`);
    this.name = 'PartTooLargeError';
  }
}

const tempName = () => `.${randomBytes(12).toString('hex')}.tmp`;
const isMissing = (err: unknown) =>
  err instanceof Error &&
  'code' in err &&
  (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EISDIR');

/**
 * The embedded object store: one file per key under `rootDir`. Writes go to a temp file in the target's
 * directory, are fsynced and renamed into place, so a reader sees the old object or the whole new one and
 * a failed write leaves nothing. Signed URLs point at the control plane's /v1/storage routes.
 */
export class FsObjectStore implements ObjectStore {
  readonly rootDir: string;
  private readonly publicUrl: string;
  private readonly signingSecret: string;

  constructor(rootDir: string, options: { publicUrl: string; signingSecret: string }) {
    this.rootDir = rootDir;
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
    this.signingSecret = options.signingSecret;
  }

  private path(key: string): string {
    assertKey(key);
    return join(this.rootDir, key);
  }

  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new Error('Invalid upload id');
    return join(this.rootDir, UPLOADS_DIR, uploadId);
  }

  /** Streams `source` into a temp file next to `target`, fsyncs it, renames it over `target`. */
  private async writeAtomically(target: string, write: (tempPath: string) => Promise<void>): Promise<number> {
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    const tempPath = join(dir, tempName());
    try {
      await write(tempPath);
      const handle = await open(tempPath, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const { size } = await stat(tempPath);
      await rename(tempPath, target);
      return size;
    } catch (err) {
      await rm(tempPath, { force: true });
      throw err;
    }
  }

  async put(key: string, body: Readable, options: { signal?: AbortSignal } = {}): Promise<StoredObject> {
    const target = this.path(key);
    const sizeBytes = await this.writeAtomically(target, (tempPath) =>
      pipeline(body, createWriteStream(tempPath, { flags: 'wx' }), { signal: options.signal }),
    );
    return { key, sizeBytes };
  }

  async get(key: string, range?: { start: number; end: number }): Promise<ObjectBody | undefined> {
    const path = this.path(key);
    // Open first and stat the descriptor, so size and bytes come from the same file even if a put renames
    // a new one into place meanwhile.
    const handle = await open(path, 'r').catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw err;
    });
    if (!handle) return undefined;
    const info = await handle.stat();
    const size = info.size;
    if (!info.isFile()) {
      await handle.close();
      return undefined;
    }
    if (!range) return { body: handle.createReadStream(), sizeBytes: size, contentType: undefined };
    const end = Math.min(range.end, size - 1);
    if (range.start < 0 || range.start > end) {
      await handle.close();
      throw new RangeError(`Range ${range.start}-${range.end} is not satisfiable for ${size} bytes`);
    }
    const body = handle.createReadStream({ start: range.start, end });
    return { body, sizeBytes: end - range.start + 1, contentType: undefined };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, sizeBytes: s.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (err) {
      // A directory at `key` is a prefix of other objects, not an object: nothing to delete either.
      if (!isMissing(err)) throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    if (prefix !== '' && (!KEY_CHARS.test(prefix) || prefix.includes('..') || prefix.startsWith('/'))) {
      throw new Error(`Invalid prefix: ${JSON.stringify(prefix)}`);
    }
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    yield* this.walk(base, prefix);
  }

  /** Depth-first, children sorted with a `/` after directory names, which yields keys in byte order as S3 does. */
  private async *walk(dirKey: string, prefix: string): AsyncIterable<StoredObject> {
    const entries = await readdir(join(this.rootDir, dirKey), { withFileTypes: true }).catch(
      (err: unknown) => {
        if (isMissing(err)) return [];
        throw err;
      },
    );
    const children = entries
      .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isDirectory()))
      .map((e) => ({ key: dirKey ? `${dirKey}/${e.name}` : e.name, dir: e.isDirectory() }))
      .sort((a, b) => (sortName(a) < sortName(b) ? -1 : 1));
    for (const child of children) {
      if (child.dir) {
        const asPrefix = `${child.key}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix)) yield* this.walk(child.key, prefix);
      } else if (child.key.startsWith(prefix)) {
        const head = await this.head(child.key);
        if (head) yield head;
      }
    }
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    assertKey(key);
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const signature = signStorageAction(this.signingSecret, { method: 'GET', key }, expires);
    const encoded = Buffer.from(key).toString('base64url');
    return `${this.publicUrl}/v1/storage/objects/${encoded}?expires=${expires}&signature=${signature}`;
  }

  /** Whether a signed-URL request for `action` carries a valid, unexpired signature. */
  verify(action: SignedAction, expires: string | undefined, signature: string | undefined) {
    return verifyStorageSignature(this.signingSecret, action, expires, signature);
  }

  async createMultipartUpload(key: string): Promise<{ uploadId: string }> {
    assertKey(key);
    const uploadId = randomBytes(16).toString('hex');
    const dir = this.uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'key'), key);
    return { uploadId };
  }

  async presignUploadParts(
    key: string,
    uploadId: string,
    partCount: number,
    expiresInSeconds: number,
  ): Promise<PresignedPart[]> {
    assertKey(key);
    this.uploadDir(uploadId);
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    return Array.from({ length: partCount }, (_, i) => {
      const partNumber = i + 1;
      const action = { method: 'PUT', key, uploadId, partNumber } as const;
      const signature = signStorageAction(this.signingSecret, action, expires);
      const query = `key=${encodeURIComponent(key)}&expires=${expires}&signature=${signature}`;
      return {
        partNumber,
        url: `${this.publicUrl}/v1/storage/uploads/${uploadId}/parts/${partNumber}?${query}`,
      };
    });
  }

  /** The key an open upload was created for; undefined when there is no such upload. */
  private async uploadKey(uploadId: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.uploadDir(uploadId), 'key'), 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Stores one part of an open upload (what the signed part URL's PUT does) and returns its ETag, the MD5 of
   * its bytes as S3 computes it. undefined when the upload does not exist for `key`. Throws
   * PartTooLargeError past `maxBytes`, leaving no part behind.
   */
  async writeUploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    maxBytes: number,
  ): Promise<{ etag: string } | undefined> {
    if (!UPLOAD_ID.test(uploadId) || (await this.uploadKey(uploadId)) !== key) return undefined;
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      throw new RangeError('Part numbers run from 1 to 10000');
    }
    const dir = this.uploadDir(uploadId);
    const md5 = createHash('md5');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        callback(null, chunk);
      },
    });
    const name = partFileName(partNumber);
    const target = join(dir, name);
    await this.writeAtomically(target, (tempPath) =>
      pipeline(body, byteCap(maxBytes), hashing, createWriteStream(tempPath, { flags: 'wx' })),
    );
    const etag = md5.digest('hex');
    await writeFile(join(dir, `${name}.etag`), etag);
    return { etag: `"${etag}"` };
  }

  async listUploadParts(key: string, uploadId: string): Promise<StoredPart[]> {
    if (!UPLOAD_ID.test(uploadId) || (await this.uploadKey(uploadId)) !== key) {
      throw new Error(`No upload ${uploadId} for this key`);
    }
    const dir = this.uploadDir(uploadId);
    const parts: StoredPart[] = [];
    // A part's .etag is written after its bytes are in place, so a listed part is a whole one.
    for (const name of (await readdir(dir)).sort()) {
      const match = /^part-(\d{5})\.etag$/.exec(name);
      if (!match) continue;
      const partNumber = Number(match[1]);
      const [etag, info] = await Promise.all([
        readFile(join(dir, name), 'utf8'),
        stat(join(dir, partFileName(partNumber))),
      ]);
      parts.push({ partNumber, etag: `"${etag}"`, sizeBytes: info.size });
    }
    return parts;
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: CompletedPart[],
  ): Promise<StoredObject> {
    if ((await this.uploadKey(uploadId)) !== key) throw new Error(`No upload ${uploadId} for this key`);
    if (parts.length === 0) throw new Error('A multipart upload needs at least one part');
    const dir = this.uploadDir(uploadId);
    for (const [i, part] of parts.entries()) {
      const previous = parts[i - 1];
      if (previous && previous.partNumber >= part.partNumber)
        throw new Error('Parts must be in ascending order');
      const stored = await readFile(join(dir, `${partFileName(part.partNumber)}.etag`), 'utf8').catch(
        () => '',
      );
      if (stored === '' || stored !== part.etag.replaceAll('"', '')) {
        throw new Error(`Part ${part.partNumber} was not uploaded or its ETag does not match`);
      }
    }
    const sizeBytes = await this.writeAtomically(this.path(key), async (tempPath) => {
      const out = createWriteStream(tempPath, { flags: 'wx' });
      try {
        for (const part of parts) {
          await pipeline(createReadStream(join(dir, partFileName(part.partNumber))), out, { end: false });
        }
        out.end();
        await finished(out);
      } catch (err) {
        out.destroy();
        throw err;
      }
    });
    await rm(dir, { recursive: true, force: true });
    return { key, sizeBytes };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    assertKey(key);
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }
}

const sortName = (entry: { key: string; dir: boolean }) => (entry.dir ? `${entry.key}/` : entry.key);
const partFileName = (partNumber: number) => `part-${String(partNumber).padStart(5, '0')}`;
