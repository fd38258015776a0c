import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from './object-store.js';

const MiB = 1024 * 1024;

/** What an adapter's test file hands the suite: a ready store and how to release it afterwards. */
export interface ContractSubject {
  store: ObjectStore;
  close(): Promise<void>;
}

/** Deterministic bytes, `size` of them, in 1 MiB chunks: a stream that is never held whole. */
function bytes(size: number, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < size; offset += MiB) {
    const length = Math.min(MiB, size - offset);
    const chunk = Buffer.alloc(Math.ceil(length / 4) * 4);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((seed * 2654435761 + offset + i) >>> 0, i);
    chunks.push(chunk.subarray(0, length));
  }
  return chunks;
}

const sha256 = (chunks: Iterable<Buffer> | Buffer[]) => {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
};

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A stream that yields `before` bytes, then fails: a client dropping mid-upload. */
function failingStream(before: number): Readable {
  return Readable.from(
    (async function* () {
      yield* bytes(before, 9);
      throw new Error('client went away');
    })(),
  );
}

/**
 * The one behaviour every ObjectStore adapter must show, run against the filesystem store and against a
 * real S3 server. Each test works under its own random prefix, so one store serves the whole suite.
 */
export function describeObjectStoreContract(name: string, setup: () => Promise<ContractSubject>) {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const store = (): ObjectStore => {
      if (!subject) throw new Error('setup did not run');
      return subject.store;
    };
    const prefix = () => `contract/${randomBytes(6).toString('hex')}`;

    beforeAll(async () => {
      subject = await setup();
    }, 60_000);
    afterAll(async () => {
      await subject?.close();
    });

    it('streams a multi-megabyte object in and reads the same bytes back', async () => {
      const key = `${prefix()}/big`;
      const data = bytes(12 * MiB + 123, 1);
      const stored = await store().put(key, Readable.from(data), { contentType: 'application/octet-stream' });
      expect(stored).toEqual({ key, sizeBytes: 12 * MiB + 123 });
      const object = await store().get(key);
      expect(object?.sizeBytes).toBe(12 * MiB + 123);
      expect(sha256([await readAll(object?.body ?? Readable.from([]))])).toBe(sha256(data));
    });

    it('leaves no object behind when the body stream fails midway', async () => {
      const key = `${prefix()}/broken`;
      await expect(store().put(key, failingStream(10 * MiB))).rejects.toThrow();
      expect(await store().head(key)).toBeUndefined();
      expect(await store().get(key)).toBeUndefined();
    });

    it('keeps the previous object when a replacing put fails', async () => {
      const key = `${prefix()}/kept`;
      await store().put(key, Readable.from([Buffer.from('first version')]));
      await expect(store().put(key, failingStream(1024))).rejects.toThrow();
      expect((await readAll((await store().get(key))?.body ?? Readable.from([]))).toString()).toBe(
        'first version',
      );
    });

    it('reports the size of an object in head', async () => {
      const key = `${prefix()}/sized`;
      await store().put(key, Readable.from([Buffer.alloc(4321, 7)]));
      expect(await store().head(key)).toEqual({ key, sizeBytes: 4321 });
    });

    it('returns exactly the inclusive byte range asked for', async () => {
      const key = `${prefix()}/ranged`;
      await store().put(key, Readable.from([Buffer.from('0123456789abcdef')]));
      const object = await store().get(key, { start: 3, end: 9 });
      expect(object?.sizeBytes).toBe(7);
      expect((await readAll(object?.body ?? Readable.from([]))).toString()).toBe('3456789');
    });

    it('answers undefined for a missing object in get and head', async () => {
      expect(await store().get(`${prefix()}/missing`)).toBeUndefined();
      expect(await store().head(`${prefix()}/missing`)).toBeUndefined();
    });

    it('deletes an object, and deleting it again is not an error', async () => {
      const key = `${prefix()}/doomed`;
      await store().put(key, Readable.from([Buffer.from('x')]));
      await store().delete(key);
      expect(await store().head(key)).toBeUndefined();
      await expect(store().delete(key)).resolves.toBeUndefined();
    });

    it('lists every object under a prefix, in key order, across pages, and nothing outside it', async () => {
      const root = prefix();
      const keys = Array.from({ length: 30 }, (_, i) => `${root}/a/${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((key) => store().put(key, Readable.from([Buffer.from(key)]))));
      await store().put(`${root}/b/outside`, Readable.from([Buffer.from('no')]));
      await store().put(`${root}/a-sibling`, Readable.from([Buffer.from('no')]));
      const listed = [];
      for await (const object of store().list(`${root}/a/`)) listed.push(object);
      expect(listed.map((o) => o.key)).toEqual(keys);
      expect(listed[0]?.sizeBytes).toBe(keys[0]?.length);
      const all = [];
      for await (const object of store().list(`${root}/a`)) all.push(object.key);
      expect(all).toEqual([`${root}/a-sibling`, ...keys]);
    });

    it('serves a presigned GET to a plain fetch, with ranges, until it expires', async () => {
      const key = `${prefix()}/shared`;
      await store().put(key, Readable.from([Buffer.from('signed bytes')]));
      const url = await store().presignGet(key, 600);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('signed bytes');
      const ranged = await fetch(url, { headers: { range: 'bytes=7-11' } });
      expect(ranged.status).toBe(206);
      expect(await ranged.text()).toBe('bytes');

      const tampered = new URL(url);
      const sig = [...tampered.searchParams.keys()].find((k) => /signature/i.test(k)) ?? 'signature';
      tampered.searchParams.set(sig, 'f'.repeat(64));
      expect((await fetch(tampered)).status).toBe(403);

      const shortLived = await store().presignGet(key, 1);
      await sleep(2_500);
      const expired = await fetch(shortLived);
      expect(expired.status).toBe(403);
      await expired.body?.cancel();
    });

    it('assembles a multipart upload from parts PUT to presigned URLs with plain fetch', async () => {
      const key = `${prefix()}/multipart`;
      const parts = [bytes(5 * MiB, 2), bytes(5 * MiB, 3), bytes(1000, 4)].map((chunks) =>
        Buffer.concat(chunks),
      );
      const { uploadId } = await store().createMultipartUpload(key);
      const urls = await store().presignUploadParts(key, uploadId, parts.length, 600);
      expect(urls.map((u) => u.partNumber)).toEqual([1, 2, 3]);
      const completed = await Promise.all(
        urls.map(async ({ partNumber, url }) => {
          const res = await fetch(url, { method: 'PUT', body: parts[partNumber - 1] });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
          return { partNumber, etag: res.headers.get('etag') ?? '' };
        }),
      );
      expect(await store().head(key)).toBeUndefined();
      // What a resuming client reads back: every part, with the ETag its PUT answered.
      const listed = await store().listUploadParts(key, uploadId);
      expect(listed.map((p) => p.partNumber)).toEqual([1, 2, 3]);
      expect(listed.map((p) => p.sizeBytes)).toEqual([5 * MiB, 5 * MiB, 1000]);
      expect(listed.map((p) => p.etag)).toEqual(
        [...completed].sort((a, b) => a.partNumber - b.partNumber).map((p) => p.etag),
      );
      const stored = await store().completeMultipartUpload(key, uploadId, completed);
      expect(stored).toEqual({ key, sizeBytes: 10 * MiB + 1000 });
      const object = await store().get(key);
      expect(sha256([await readAll(object?.body ?? Readable.from([]))])).toBe(sha256(parts));
    });

    it('leaves nothing behind when a multipart upload is aborted', async () => {
      const key = `${prefix()}/aborted`;
      const { uploadId } = await store().createMultipartUpload(key);
      const [part] = await store().presignUploadParts(key, uploadId, 1, 600);
      const res = await fetch(part?.url ?? '', { method: 'PUT', body: Buffer.alloc(5 * MiB, 1) });
      expect(res.status).toBe(200);
      const etag = res.headers.get('etag') ?? '';
      await store().abortMultipartUpload(key, uploadId);
      await expect(
        store().completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag }]),
      ).rejects.toThrow();
      expect(await store().head(key)).toBeUndefined();
    });
  });
}
