import type { ObjectStore } from '../src/storage/object-store.js';
import { type AppLike, readReply, type TestReply } from './test-app.js';

let counter = 0;

/** Registers a model in the caller's org and returns its id; each call gets a fresh name unless given one. */
export async function newModel(app: AppLike, token: string, name?: string): Promise<string> {
  counter += 1;
  const res = await app.request('/v1/models', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: name ?? `model-${counter}` }),
  });
  if (res.status !== 201) throw new Error(`create model failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** POSTs `body` raw as a new version of `modelId`, the way a client streams a file. */
export async function uploadVersion(
  app: AppLike,
  token: string,
  modelId: string,
  fileName: string,
  body: Uint8Array | ReadableStream<Uint8Array> | string,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<TestReply> {
  const params = new URLSearchParams({ filename: fileName, ...query });
  const init: RequestInit & { duplex?: 'half' } = {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
    body,
  };
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) init.duplex = 'half';
  return readReply(await app.request(`/v1/models/${modelId}/versions?${params}`, init));
}

/** Every key the store holds under `prefix`. */
export async function storedKeys(store: ObjectStore, prefix = 'orgs/'): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}

/** A stream of `total` pseudo-random bytes in `chunk`-sized pieces, produced as it is read. */
export function generatedStream(total: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  let seed = 1;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const size = Math.min(chunk, total - sent);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 1) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        bytes[i] = seed & 0xff;
      }
      sent += size;
      controller.enqueue(bytes);
    },
  });
}
