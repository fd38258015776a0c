import { describe, expect, it } from 'vitest';
import { decideScale, newScaleMemory, type ScaleMemory, type ScalePolicy } from './autoscaler.js';

const POLICY: ScalePolicy = {
  minReplicas: 1,
  maxReplicas: 10,
  targetConcurrency: 16,
  scaleUpDelaySeconds: 0,
  scaleDownDelaySeconds: 0,
  scaleToZeroAfterSeconds: null,
};

/**
 * A deployment driven through ticks two seconds apart on a fake clock, as the scheduler drives it: each
 * decision becomes the next tick's current target, and every replica wanted is taken as ready.
 */
function simulate(policy: Partial<ScalePolicy> = {}, start = { replicas: 1, at: 1_000_000 }) {
  const p = { ...POLICY, ...policy };
  let now = start.at;
  let current = start.replicas;
  let lastCallAt: number | null = null;
  const memory: ScaleMemory = newScaleMemory(now);
  const messages: string[] = [];
  return {
    memory,
    messages,
    get replicas() {
      return current;
    },
    /** Runs ticks for `seconds` with this load; returns the target after them. */
    run(seconds: number, load: { inFlight?: number; queued?: number; held?: number } = {}) {
      const end = now + seconds * 1000;
      while (now < end) {
        now += 2_000;
        const obs = { inFlight: 0, queued: 0, held: 0, ...load };
        if (obs.inFlight + obs.queued + obs.held > 0) lastCallAt = now;
        const d = decideScale(p, { now, current, ready: current, lastCallAt, ...obs }, memory);
        if (d.message) messages.push(d.message);
        current = d.replicas;
      }
      return current;
    },
    /** Another hand (a wake, a PATCH) sets the target between ticks. */
    set(replicas: number) {
      current = replicas;
    },
  };
}

describe('decideScale', () => {
  it('scales to the replicas that put target concurrency on each, with the numbers in the message', () => {
    const d = simulate({}, { replicas: 2, at: 1_000_000 });
    expect(d.run(2, { inFlight: 61 })).toBe(4);
    expect(d.messages[0]).toMatch(/^2 → 4 replicas: 61 in flight, 0 queued, 0 held .*target 16 per replica$/);
  });

  it('counts queued calls as demand, and held calls only while no replica is ready to take them', () => {
    expect(simulate().run(2, { inFlight: 10, queued: 38 })).toBe(3);
    // One replica ready: the held calls are on their way to it and will show there.
    expect(simulate().run(2, { inFlight: 10, held: 38 })).toBe(1);
  });

  it('stays within minReplicas and maxReplicas', () => {
    expect(simulate({ maxReplicas: 5 }).run(4, { inFlight: 1_000 })).toBe(5);
    expect(simulate({ minReplicas: 3 }, { replicas: 3, at: 0 }).run(120)).toBe(3);
  });

  it('panics on a burst: follows the 6 s window at once and does not scale down until 60 s without panic', () => {
    const d = simulate({ scaleUpDelaySeconds: 30 });
    d.run(60, { inFlight: 8 });
    expect(d.replicas).toBe(1);
    // The 60 s average barely moves; the 6 s one needs more than twice the one ready replica.
    const during = d.run(6, { inFlight: 160 });
    expect(during).toBeGreaterThanOrEqual(4);
    expect(d.messages.at(-1)).toContain('panic mode');
    expect(d.memory.panickedAt).not.toBeNull();
    // The burst ends: held at the panic size for a stable window, then back down.
    expect(d.run(40, { inFlight: 8 })).toBe(during);
    expect(d.run(80, { inFlight: 8 })).toBe(1);
    expect(d.memory.panickedAt).toBeNull();
  });

  it('adds replicas only once they have been wanted for scaleUpDelaySeconds', () => {
    const d = simulate({ scaleUpDelaySeconds: 10 });
    // 30 in flight on one replica of 16: two wanted, short of panic (32).
    expect(d.run(8, { inFlight: 30 })).toBe(1);
    expect(d.run(4, { inFlight: 30 })).toBe(2);
  });

  it('removes replicas only after scaleDownDelaySeconds, to the most wanted over that delay', () => {
    const d = simulate({ scaleDownDelaySeconds: 20 }, { replicas: 4, at: 0 });
    d.run(60, { inFlight: 64 });
    expect(d.replicas).toBe(4);
    // The 60 s average falls over a minute; the delay holds each step back 20 s.
    expect(d.run(10)).toBe(4);
    expect(d.run(120)).toBe(1);
    expect(d.messages.at(-1)).toMatch(/→ 1 replica: 0 in flight/);
  });

  it('scales to zero after scaleToZeroAfterSeconds without calls, and stays up while calls are held', () => {
    const d = simulate({ minReplicas: 0, scaleToZeroAfterSeconds: 30 });
    d.run(10, { inFlight: 2 });
    expect(d.run(28)).toBe(1);
    expect(d.run(4)).toBe(0);
    expect(d.messages.at(-1)).toMatch(/^1 → 0 replicas: no calls for 3\d s \(scale to zero after 30 s\)$/);
    expect(d.run(600)).toBe(0);
    // The wake route sets one replica; the calls it holds keep it from going straight back.
    d.set(1);
    expect(d.run(40, { held: 3 })).toBe(1);
  });

  it('leaves waking to the wake route: held calls keep a deployment from zero but add no replicas', () => {
    const memory = newScaleMemory(0);
    const policy = { ...POLICY, minReplicas: 0, scaleToZeroAfterSeconds: 60 };
    const obs = { now: 2_000, current: 0, ready: 0, inFlight: 0, queued: 0, held: 200, lastCallAt: 2_000 };
    expect(decideScale(policy, obs, memory).replicas).toBe(0);
    // Woken (the target set to 1 by the route): one replica while it starts, however many calls wait.
    expect(decideScale(policy, { ...obs, now: 4_000, current: 1 }, memory).replicas).toBe(1);
    expect(decideScale(policy, { ...obs, now: 6_000, current: 1, ready: 1 }, memory).replicas).toBe(1);
    // Still held 70 s on (a long wait): not idle.
    expect(
      decideScale(policy, { ...obs, now: 72_000, current: 1, ready: 1, lastCallAt: 72_000 }, memory).replicas,
    ).toBe(1);
    const serving = { ...obs, now: 74_000, current: 1, ready: 1, held: 0, inFlight: 200, lastCallAt: 74_000 };
    expect(decideScale(policy, serving, memory).replicas).toBeGreaterThan(1);
  });

  it('never goes to zero with minReplicas 0 when scale-to-zero is off', () => {
    expect(simulate({ minReplicas: 0, scaleToZeroAfterSeconds: null }).run(600)).toBe(1);
  });

  it('takes a target raised from zero by another hand as a call, so it is not undone at once', () => {
    const d = simulate({ minReplicas: 0, scaleToZeroAfterSeconds: 30 });
    d.run(40);
    expect(d.replicas).toBe(0);
    d.set(1);
    expect(d.run(20)).toBe(1);
    expect(d.run(12)).toBe(0);
  });

  it('counts idleness from its own start when it never saw a call (a restarted control plane)', () => {
    const d = simulate({ minReplicas: 0, scaleToZeroAfterSeconds: 60 });
    expect(d.run(50)).toBe(1);
    expect(d.run(12)).toBe(0);
  });
});
