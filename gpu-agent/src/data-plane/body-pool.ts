/**
 * Recycled buffers for large request bodies. A fresh 543 KB buffer (the classifier's input as JSON) costs
 * ~340 µs of CPU to allocate and fill (mmap, a page fault per 4 KB, munmap, and external-memory pressure
 * on the GC) where filling a reused one costs ~16 µs. A body comes back only through `recycleBody`, once
 * nothing reads it any more, and only if it was not transferred to a worker (a detached buffer is empty).
 * Bodies always view exactly their own bytes: what a previous request left beyond them is never exposed.
 *
 * Resting buffers are bounded by bytes, not by a count per size: 64 callers each sending the classifier's
 * JSON hold 64 buffers of the 1 MiB class at once, and a pool of 8 per size made 56 of every 64 requests pay
 * for a fresh one (the bench's classifier JSON at 64 callers: up to 2.1x JSON.parse, 1.3-1.4x at 8 callers).
 */
const MIN_POOLED_BYTES = 64 * 1024;
const MAX_POOLED_BYTES = 16 * 1024 * 1024;
/** What the pool keeps resting at most, all sizes together: memory a burst leaves behind on purpose. */
export const MAX_RESTING_BYTES = 96 * 1024 * 1024;

const free = new Map<number, ArrayBuffer[]>();
let restingBytes = 0;
const born = new WeakSet<ArrayBuffer>();
const resting = new WeakSet<ArrayBuffer>();

/** The size class of a request: the next power of two (at least MIN_POOLED_BYTES). */
function sizeClass(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(bytes, MIN_POOLED_BYTES)));
}

/** Bytes the pool holds resting now (its test reads it). */
export function restingBodyBytes(): number {
  return restingBytes;
}

/** An ArrayBuffer of at least `bytes`: a recycled one when there is one, else a new one. */
export function takeBodyBuffer(bytes: number): ArrayBuffer {
  if (bytes < MIN_POOLED_BYTES || bytes > MAX_POOLED_BYTES) return Buffer.allocUnsafeSlow(bytes).buffer;
  const size = sizeClass(bytes);
  const reused = free.get(size)?.pop();
  if (reused) {
    resting.delete(reused);
    restingBytes -= reused.byteLength;
    return reused;
  }
  const buffer = Buffer.allocUnsafeSlow(size).buffer;
  born.add(buffer);
  return buffer;
}

/**
 * Gives a body's buffer back once no one reads the body. Ignored for buffers the pool did not make, for
 * buffers transferred away (detached) and for a buffer given back twice.
 */
export function recycleBody(body: Uint8Array): void {
  const { buffer } = body;
  if (!(buffer instanceof ArrayBuffer) || !born.has(buffer) || resting.has(buffer)) return;
  if (buffer.byteLength === 0) return;
  if (restingBytes + buffer.byteLength > MAX_RESTING_BYTES) return;
  const list = free.get(buffer.byteLength) ?? [];
  list.push(buffer);
  resting.add(buffer);
  restingBytes += buffer.byteLength;
  free.set(buffer.byteLength, list);
}
