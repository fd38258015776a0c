import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Hono } from 'hono';
import { AppError, notFound, unauthenticated } from '../errors.js';
import type { AppEnv } from '../http/context.js';
import {
  type FsObjectStore,
  isValidObjectKey,
  PartTooLargeError,
  type SignedAction,
} from '../storage/fs-store.js';

/** Maps a signature check to the envelope: no signature → 401, a wrong or expired one → 403. */
function requireSignature(store: FsObjectStore, action: SignedAction, query: Record<string, string>) {
  const result = store.verify(action, query.expires, query.signature);
  if (result === 'missing') throw unauthenticated('This URL needs expires and signature query parameters');
  if (result === 'invalid') throw new AppError('forbidden', 'The signature does not match this URL');
  if (result === 'expired') throw new AppError('forbidden', 'This signed URL has expired');
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`; null when the header is absent or not one range. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  const match = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const [first, last] = [match[1] ?? '', match[2] ?? ''];
  if (first === '') {
    const suffix = Number(last);
    return suffix === 0 || size === 0
      ? 'unsatisfiable'
      : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return null;
  return start >= size ? 'unsatisfiable' : { start, end };
}

const toWeb = (body: Readable) => Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>;

/**
 * The control plane's side of the filesystem store's signed URLs: downloads for agents and part uploads
 * for clients. The signature is the only credential, so these sit outside the OpenAPI document and auth.
 */
export function storageRoutes({ store, maxPartBytes }: { store: FsObjectStore; maxPartBytes: number }) {
  return new Hono<AppEnv>()
    .get('/v1/storage/objects/:encodedKey', async (c) => {
      const key = Buffer.from(c.req.param('encodedKey'), 'base64url').toString('utf8');
      if (!isValidObjectKey(key)) throw new AppError('forbidden', 'The signature does not match this URL');
      requireSignature(store, { method: 'GET', key }, c.req.query());
      const head = await store.head(key);
      if (!head) throw notFound('Object');
      const range = parseRange(c.req.header('range'), head.sizeBytes);
      const headers = {
        'accept-ranges': 'bytes',
        'content-type': 'application/octet-stream',
        'cache-control': 'private, no-store',
      };
      if (range === 'unsatisfiable') {
        return c.body(null, 416, { ...headers, 'content-range': `bytes */${head.sizeBytes}` });
      }
      const object = await store.get(key, range ?? undefined);
      if (!object) throw notFound('Object');
      if (!range)
        return c.body(toWeb(object.body), 200, { ...headers, 'content-length': String(object.sizeBytes) });
      return c.body(toWeb(object.body), 206, {
        ...headers,
        'content-length': String(object.sizeBytes),
        'content-range': `bytes ${range.start}-${range.end}/${head.sizeBytes}`,
      });
    })
    .put('/v1/storage/uploads/:uploadId/parts/:partNumber', async (c) => {
      const { uploadId } = c.req.param();
      // Decimal digits only: `0x1` would otherwise pass a signature made for part 1.
      const partText = c.req.param('partNumber');
      const partNumber = /^[1-9][0-9]{0,4}$/.test(partText) ? Number(partText) : Number.NaN;
      const key = c.req.query('key') ?? '';
      if (!/^[a-f0-9]{32}$/.test(uploadId) || !Number.isInteger(partNumber) || !isValidObjectKey(key)) {
        throw new AppError('forbidden', 'The signature does not match this URL');
      }
      requireSignature(store, { method: 'PUT', key, uploadId, partNumber }, c.req.query());
      const declared = Number(c.req.header('content-length') ?? '0');
      if (declared > maxPartBytes) throw tooLarge(maxPartBytes);
      const raw = c.req.raw.body;
      const body = raw
        ? Readable.fromWeb(raw as unknown as NodeReadableStream<Uint8Array>)
        : Readable.from([]);
      try {
        const part = await store.writeUploadPart(key, uploadId, partNumber, body, maxPartBytes);
        if (!part) throw notFound('Upload');
        return c.body(null, 200, { etag: part.etag });
      } catch (err) {
        if (err instanceof PartTooLargeError) throw tooLarge(maxPartBytes);
        throw err;
      }
    });
}

const tooLarge = (max: number) => new AppError('payload_too_large', `A part may be at most ${max} bytes`);
