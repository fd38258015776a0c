import {
  START_FAILURE_REASON_MAX,
  type StartFailure,
  WAKE_MAX_WAIT_MS,
  type WakeAnswer,
} from '@meridian/protocol';
import { EdgeError } from '../errors.js';

/** How many calls, how many of their body bytes, and how long, one deployment's calls are held. */
export interface HoldBounds {
  maxWaitMs: number;
  maxCount: number;
  maxBytes: number;
}

/** A wake's answer; when it says `failed`, with when the control plane tries again (routing's `retryAt`). */
export type WakeOutcome = WakeAnswer & { retryAt?: number };

/** What the queue needs from the control plane and routing while it holds a deployment's calls. */
export interface Waker {
  /**
   * Asks the control plane to start a replica (idempotent) and to answer within `waitMs`, as soon as one is
   * ready or it failed to start. Throws when the control plane cannot be reached; the queue then asks again.
   */
  wake(held: number, waitMs: number, signal: AbortSignal): Promise<WakeOutcome>;
  /** Refreshes routing (to at least `minVersion` when given) and says whether a replica now serves. */
  ready(minVersion: number | undefined): Promise<boolean>;
}

type Background = Pick<ExecutionContext, 'waitUntil'>;

/**
 * What the caller calls the thing it calls, for the errors it reads: OIP's `/v2/models/{name}` a model,
 * Meridian's `/v1/deployments/{id or name}` a deployment. Passed only to where an error is built.
 */
export type CalledNoun = 'model' | 'deployment';

type Holder = {
  bytes: number;
  deadline: number;
  timer: ReturnType<typeof setTimeout>;
  resolve: () => void;
  reject: (err: EdgeError) => void;
  /** Calls of both kinds of route may wait in one deployment's queue: each is refused in its own word. */
  noun: CalledNoun;
};

type Waiting = { name: string; holders: Set<Holder>; bytes: number; stop: AbortController };

/** Retry-After on a 503 for a call that waited its whole bound: the replica may be close to ready. */
const RETRY_AFTER_WAITED = '5';
/** Retry-After on a 503 for a call refused because the queue is full: it drains within a cold start. */
const RETRY_AFTER_FULL = '1';
/** A wake that comes back sooner than this without readiness is sent again only after the rest of it. */
const MIN_WAKE_INTERVAL_MS = 200;
/** The same, after a wake that failed (control plane unreachable). */
const FAILED_WAKE_INTERVAL_MS = 1_000;

/**
 * Calls held by this isolate for deployments that have no ready replica (scaled to zero, or starting),
 * bounded per deployment by count, body bytes and wait, and over all deployments by `isolateMaxBytes` (an
 * isolate's memory is shared). While a deployment has calls held, exactly one wake of it is in flight from
 * this isolate (the control plane coalesces the wakes of all isolates); when it answers that a replica is
 * ready, routing is refreshed and every held call goes on at once. A call is refused (503, Retry-After)
 * when it does not fit, when its wait runs out, or when the control plane says the replica cannot start.
 */
export class HoldQueue {
  private readonly waiting = new Map<string, Waiting>();
  private heldBytes = 0;

  constructor(private readonly isolateMaxBytes: number) {}

  /** Calls held now for `deploymentId` (0 when none). */
  held(deploymentId: string): number {
    return this.waiting.get(deploymentId)?.holders.size ?? 0;
  }

  /** Bytes of held bodies, over all deployments. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Counts `bytes` of a call held outside the queue (one waiting out a down replica) in the isolate's bound
   * until the returned function is called; undefined when they do not fit.
   */
  reserve(bytes: number): (() => void) | undefined {
    if (this.heldBytes + bytes > this.isolateMaxBytes) return undefined;
    this.heldBytes += bytes;
    let held = true;
    return () => {
      if (held) this.heldBytes -= bytes;
      held = false;
    };
  }

  /**
   * Holds one call whose body (already read) is `bytes` long until a replica of the deployment serves; then
   * resolves, and the caller routes it again. Rejects with a 503 EdgeError naming the bound it hit, and the
   * deployment as `noun`.
   */
  hold(
    deployment: { deploymentId: string; name: string },
    bytes: number,
    bounds: HoldBounds,
    waker: Waker,
    background?: Background,
    noun: CalledNoun = 'model',
  ): Promise<void> {
    const { deploymentId, name } = deployment;
    const found = this.waiting.get(deploymentId);
    const waiting = found ?? { name, holders: new Set(), bytes: 0, stop: new AbortController() };
    const refusal = this.refusal(waiting, bytes, bounds, noun);
    if (refusal) return Promise.reject(refusal);
    return new Promise<void>((resolve, reject) => {
      const holder: Holder = {
        bytes,
        deadline: Date.now() + bounds.maxWaitMs,
        timer: setTimeout(
          () => this.expire(deploymentId, waiting, holder, bounds.maxWaitMs),
          bounds.maxWaitMs,
        ),
        resolve,
        reject,
        noun,
      };
      waiting.holders.add(holder);
      waiting.bytes += bytes;
      this.heldBytes += bytes;
      if (found) return;
      this.waiting.set(deploymentId, waiting);
      const driven = this.drive(deploymentId, waiting, waker);
      background?.waitUntil(driven);
    });
  }

  /** The 503 for a call that does not fit in the deployment's or the isolate's bounds; undefined if it fits. */
  private refusal(
    waiting: Waiting,
    bytes: number,
    bounds: HoldBounds,
    noun: CalledNoun,
  ): EdgeError | undefined {
    const full = (message: string) =>
      new EdgeError('unavailable', `${noun} '${waiting.name}' is starting and ${message}; retry shortly`, {
        'Retry-After': RETRY_AFTER_FULL,
      });
    if (waiting.holders.size + 1 > bounds.maxCount)
      return full(
        `already holds ${waiting.holders.size} calls for it, the most it holds (the edge's HOLD_MAX_COUNT)`,
      );
    if (waiting.bytes + bytes > bounds.maxBytes)
      return full(
        `this call's ${bytes} bytes would take the bodies held for it past ${bounds.maxBytes} bytes (the edge's HOLD_MAX_BYTES)`,
      );
    if (this.heldBytes + bytes > this.isolateMaxBytes)
      return full(
        `this call's ${bytes} bytes would take the bodies this edge holds past ${this.isolateMaxBytes} bytes`,
      );
    return undefined;
  }

  /** Wakes the deployment until a replica serves, every holder has gone, or the control plane says it cannot. */
  private async drive(deploymentId: string, waiting: Waiting, waker: Waker): Promise<void> {
    let warned = false;
    while (waiting.holders.size > 0) {
      const started = Date.now();
      const latest = Math.max(...[...waiting.holders].map((h) => h.deadline));
      const waitMs = Math.min(WAKE_MAX_WAIT_MS, Math.max(0, latest - started));
      let answer: WakeOutcome | undefined;
      try {
        answer = await waker.wake(waiting.holders.size, waitMs, waiting.stop.signal);
      } catch (err) {
        if (!warned && !waiting.stop.signal.aborted) console.warn(wakeWarning(deploymentId, err));
        warned = true;
      }
      if (waiting.holders.size === 0) break;
      if (answer?.state === 'failed') {
        const failure = { reason: answer.reason ?? 'no reason given', retryAt: answer.retryAt };
        this.settle(deploymentId, waiting, (h) => h.reject(failedToStart(waiting.name, failure)));
        return;
      }
      const ready = await waker.ready(answer?.routingVersion).catch(() => false);
      if (ready) {
        this.settle(deploymentId, waiting, (h) => h.resolve());
        return;
      }
      const interval = answer ? MIN_WAKE_INTERVAL_MS : FAILED_WAKE_INTERVAL_MS;
      const rest = interval - (Date.now() - started);
      if (rest > 0) await pause(rest);
    }
    this.forget(deploymentId, waiting);
  }

  private expire(deploymentId: string, waiting: Waiting, holder: Holder, waitedMs: number): void {
    if (!waiting.holders.has(holder)) return;
    this.drop(waiting, holder);
    const seconds = Math.round(waitedMs / 100) / 10;
    holder.reject(
      new EdgeError(
        'unavailable',
        `${holder.noun} '${waiting.name}' has no ready replica after holding the call ${seconds} s; retry in ${RETRY_AFTER_WAITED} s`,
        { 'Retry-After': RETRY_AFTER_WAITED },
      ),
    );
    // The last holder gone: the wake in flight is no longer waited for.
    if (waiting.holders.size === 0) this.forget(deploymentId, waiting);
  }

  private settle(deploymentId: string, waiting: Waiting, action: (holder: Holder) => void): void {
    const holders = [...waiting.holders];
    for (const holder of holders) this.drop(waiting, holder);
    this.forget(deploymentId, waiting);
    for (const holder of holders) action(holder);
  }

  private drop(waiting: Waiting, holder: Holder): void {
    clearTimeout(holder.timer);
    waiting.holders.delete(holder);
    waiting.bytes -= holder.bytes;
    this.heldBytes -= holder.bytes;
  }

  private forget(deploymentId: string, waiting: Waiting): void {
    if (this.waiting.get(deploymentId) === waiting) this.waiting.delete(deploymentId);
    waiting.stop.abort();
  }
}

/** Retry-After on a failed start when the control plane names no time it tries again (or that time is past). */
export const RETRY_AFTER_FAILED_S = 30;

/**
 * The 503 for a call or a readiness probe of a deployment whose last start failed (routing's `startFailure`,
 * or a wake's `failed` answer): its reason, where to read more, and when the control plane tries again.
 */
export function failedToStart(
  name: string,
  failure: { reason: string; retryAt?: number | undefined },
  now: number = Date.now(),
): EdgeError {
  const { retryAt } = failure;
  const seconds =
    retryAt !== undefined && retryAt > now
      ? Math.min(300, Math.max(1, Math.ceil((retryAt - now) / 1000)))
      : RETRY_AFTER_FAILED_S;
  const reason = failure.reason.slice(0, START_FAILURE_REASON_MAX);
  return new EdgeError(
    'unavailable',
    `deployment '${name}' failed to start: ${reason}; see \`meridian deployments get ${name}\`; retry in ${seconds} s`,
    { 'Retry-After': String(seconds) },
  );
}

/** The same for a deployment routing shows failed. */
export const startFailed = (deployment: { name: string; startFailure?: StartFailure | undefined }) =>
  deployment.startFailure ? failedToStart(deployment.name, deployment.startFailure) : undefined;

function wakeWarning(deploymentId: string, err: unknown): string {
  const error = err instanceof Error ? err.message : String(err);
  return JSON.stringify({ level: 'warn', message: 'wake request failed', deploymentId, error });
}

/** Resolves after `ms`: the waits between wakes here, and between tries of a down replica (forward-or-hold). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
