import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MAX_RESTING_BYTES, recycleBody, restingBodyBytes, takeBodyBuffer } from './body-pool.js';

const KB = 1024;

describe('body buffer pool', () => {
  it('hands a recycled buffer to the next large body of its size, never to two at once', () => {
    const first = takeBodyBuffer(543 * KB);
    recycleBody(new Uint8Array(first, 4, 543 * KB - 8));
    recycleBody(new Uint8Array(first, 0, 10));
    const again = takeBodyBuffer(600 * KB);
    expect(again).toBe(first);
    expect(takeBodyBuffer(600 * KB)).not.toBe(first);
  });

  it('takes back neither a buffer transferred to a worker nor one it did not make, and pools no small body', () => {
    const moved = takeBodyBuffer(300 * KB);
    const body = new Uint8Array(moved, 0, 300 * KB);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(moved, [moved]);
    port1.close();
    port2.close();
    expect(moved.byteLength).toBe(0);
    recycleBody(body);
    recycleBody(new Uint8Array(300 * KB));
    const next = takeBodyBuffer(300 * KB);
    expect(next).not.toBe(moved);
    expect(next.byteLength).toBe(512 * KB);
    const small = takeBodyBuffer(2 * KB);
    recycleBody(new Uint8Array(small));
    expect(takeBodyBuffer(2 * KB)).not.toBe(small);
  });

  it('keeps a buffer for each of 64 concurrent classifier bodies, and no more than its byte budget', () => {
    const size = 543 * KB;
    const taken = Array.from({ length: 64 }, () => takeBodyBuffer(size));
    for (const buffer of taken) recycleBody(new Uint8Array(buffer, 0, size));
    const again = Array.from({ length: 64 }, () => takeBodyBuffer(size));
    expect(new Set(again)).toEqual(new Set(taken));

    // Past the budget, a given-back buffer is left to the GC: a burst of big bodies cannot pin memory.
    const big = 16 * 1024 * KB;
    const room = Math.floor((MAX_RESTING_BYTES - restingBodyBytes()) / big);
    const burst = Array.from({ length: room + 2 }, () => takeBodyBuffer(big));
    for (const buffer of burst) recycleBody(new Uint8Array(buffer, 0, big));
    expect(restingBodyBytes()).toBeLessThanOrEqual(MAX_RESTING_BYTES);
    const kept = new Set(burst.map(() => takeBodyBuffer(big)));
    expect(burst.filter((b) => kept.has(b)).length).toBe(room);
  });
});
