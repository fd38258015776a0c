import type { WakeAnswer } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EdgeError } from '../src/errors.js';
import { type HoldBounds, HoldQueue, type Waker } from '../src/routing/hold-queue.js';

const deployment = { deploymentId: 'dep_ocr', name: 'ocr' };
const bounds: HoldBounds = { maxWaitMs: 5_000, maxCount: 100, maxBytes: 1_000_000 };

/**
 * The control plane's side of a hold, scripted: each wake waits for the test to answer it (or for its abort),
 * and `ready` says what routing would show. The queue's own timers and promises are real.
 */
function scriptedWaker() {
  const wakes: { held: number; waitMs: number; signal: AbortSignal; answer: (a: WakeAnswer) => void }[] = [];
  const readyAsked: (number | undefined)[] = [];
  const state = { ready: false, failNext: 0 };
  const waker: Waker = {
    wake(held, waitMs, signal) {
      if (state.failNext > 0) {
        state.failNext -= 1;
        return Promise.reject(new Error('control plane unreachable'));
      }
      return new Promise((resolve, reject) => {
        wakes.push({ held, waitMs, signal, answer: resolve });
        signal.addEventListener('abort', () => reject(signal.reason));
      });
    },
    async ready(minVersion) {
      readyAsked.push(minVersion);
      return state.ready;
    },
  };
  return { waker, wakes, readyAsked, state };
}

const settled = <T>(p: Promise<T>) =>
  p.then(
    () => 'resolved' as const,
    (err: unknown) => err,
  );

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

beforeEach(() => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('HoldQueue', () => {
  it('holds 20 calls on one wake, then lets them all go once routing shows the version the wake named', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes, readyAsked, state } = scriptedWaker();
    const calls = Array.from({ length: 20 }, () => settled(queue.hold(deployment, 100, bounds, waker)));
    await until(() => wakes.length === 1);
    expect(queue.held('dep_ocr')).toBe(20);
    expect(queue.bytes).toBe(2_000);
    expect(wakes[0]?.held).toBe(1);
    expect(wakes[0]?.waitMs).toBeGreaterThan(4_900);

    state.ready = true;
    wakes[0]?.answer({ state: 'ready', routingVersion: 7 });

    expect(await Promise.all(calls)).toEqual(Array(20).fill('resolved'));
    expect(wakes).toHaveLength(1);
    expect(readyAsked).toEqual([7]);
    expect(queue.held('dep_ocr')).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('wakes again while the control plane answers starting, telling it how many calls it holds', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes, state } = scriptedWaker();
    const first = settled(queue.hold(deployment, 10, bounds, waker));
    await until(() => wakes.length === 1);
    const second = settled(queue.hold(deployment, 10, bounds, waker));
    wakes[0]?.answer({ state: 'starting' });
    await until(() => wakes.length === 2);
    expect(wakes[1]?.held).toBe(2);

    state.ready = true;
    wakes[1]?.answer({ state: 'ready', routingVersion: 3 });
    expect([await first, await second]).toEqual(['resolved', 'resolved']);
  });

  it('refuses the call past the count bound with 503 and Retry-After, and keeps holding the others', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes, state } = scriptedWaker();
    const tight = { ...bounds, maxCount: 2 };
    const held = [queue.hold(deployment, 1, tight, waker), queue.hold(deployment, 1, tight, waker)];

    const refused = await settled(queue.hold(deployment, 1, tight, waker));

    expect(refused).toBeInstanceOf(EdgeError);
    const err = refused as EdgeError;
    expect(err.code).toBe('unavailable');
    expect(err.headers['Retry-After']).toBe('1');
    expect(err.message).toContain("model 'ocr' is starting");
    expect(err.message).toContain("the most it holds (the edge's HOLD_MAX_COUNT)");
    state.ready = true;
    await until(() => wakes.length === 1);
    wakes[0]?.answer({ state: 'ready', routingVersion: 1 });
    await Promise.all(held);
  });

  it("refuses a body that would take the deployment's held bytes past its bound, naming the bound", async () => {
    const queue = new HoldQueue(100_000_000);
    const { waker } = scriptedWaker();
    const tight = { ...bounds, maxBytes: 32 * 1024 * 1024, maxWaitMs: 50 };
    const first = settled(queue.hold(deployment, 20 * 1024 * 1024, tight, waker));

    const refused = (await settled(queue.hold(deployment, 20 * 1024 * 1024, tight, waker))) as EdgeError;

    expect(refused).toBeInstanceOf(EdgeError);
    expect(refused.message).toContain(`this call's ${20 * 1024 * 1024} bytes`);
    expect(refused.message).toContain(`past ${32 * 1024 * 1024} bytes (the edge's HOLD_MAX_BYTES)`);
    expect(queue.bytes).toBe(20 * 1024 * 1024);
    await first;
  });

  it("refuses a body past the isolate's byte bound over all deployments", async () => {
    const queue = new HoldQueue(1_000);
    const { waker } = scriptedWaker();
    const short = { ...bounds, maxWaitMs: 50 };
    const first = settled(queue.hold({ deploymentId: 'dep_a', name: 'a' }, 800, short, waker));

    const refused = (await settled(
      queue.hold({ deploymentId: 'dep_b', name: 'b' }, 300, short, waker),
    )) as EdgeError;

    expect(refused.message).toContain('the bodies this edge holds past 1000 bytes');
    await first;
  });

  it("counts a call held outside the queue in the isolate's bytes until it is released, once", async () => {
    const queue = new HoldQueue(1_000);
    const { waker } = scriptedWaker();
    const release = queue.reserve(700);

    expect(queue.bytes).toBe(700);
    expect(queue.reserve(400)).toBeUndefined();
    const refused = (await settled(
      queue.hold(deployment, 400, { ...bounds, maxWaitMs: 50 }, waker),
    )) as EdgeError;
    expect(refused.message).toContain('the bodies this edge holds past 1000 bytes');
    release?.();
    release?.();
    expect(queue.bytes).toBe(0);
  });

  it('answers 503 with Retry-After once a call has waited its bound, and stops the wake in flight', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes } = scriptedWaker();
    const started = Date.now();

    const outcome = (await settled(
      queue.hold(deployment, 10, { ...bounds, maxWaitMs: 150 }, waker),
    )) as EdgeError;

    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(outcome).toBeInstanceOf(EdgeError);
    expect(outcome.code).toBe('unavailable');
    expect(outcome.headers['Retry-After']).toBe('5');
    expect(outcome.message).toBe(
      "model 'ocr' has no ready replica after holding the call 0.2 s; retry in 5 s",
    );
    expect(wakes[0]?.signal.aborted).toBe(true);
    expect(queue.held('dep_ocr')).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('refuses the held calls at once, with the reason, when the control plane says it cannot start', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes } = scriptedWaker();
    const calls = [
      settled(queue.hold(deployment, 1, bounds, waker)),
      settled(queue.hold(deployment, 1, bounds, waker)),
    ];
    await until(() => wakes.length === 1);

    wakes[0]?.answer({ state: 'failed', reason: 'no agent has room for 1 cpu replica' });

    for (const outcome of await Promise.all(calls)) {
      expect(outcome).toBeInstanceOf(EdgeError);
      expect((outcome as EdgeError).message).toBe(
        "deployment 'ocr' failed to start: no agent has room for 1 cpu replica; see `meridian deployments get ocr`; retry in 30 s",
      );
      expect((outcome as EdgeError).headers['Retry-After']).toBe('30');
    }
    expect(queue.held('dep_ocr')).toBe(0);
  });

  it('asks again after a wake that could not reach the control plane', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes, state } = scriptedWaker();
    state.failNext = 1;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    const call = settled(queue.hold(deployment, 1, bounds, waker));
    await until(() => wakes.length === 1);
    state.ready = true;
    wakes[0]?.answer({ state: 'ready', routingVersion: 2 });

    expect(await call).toBe('resolved');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('lets calls go when routing shows a replica although the wake only answered starting', async () => {
    const queue = new HoldQueue(10_000_000);
    const { waker, wakes, readyAsked, state } = scriptedWaker();
    const call = settled(queue.hold(deployment, 1, bounds, waker));
    await until(() => wakes.length === 1);
    state.ready = true;

    wakes[0]?.answer({ state: 'starting' });

    expect(await call).toBe('resolved');
    expect(readyAsked).toEqual([undefined]);
  });
});
