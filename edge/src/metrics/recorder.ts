import type { MiddlewareHandler } from 'hono';
import { ControlPlaneClient } from '../control-plane.js';
import type { Env } from '../env.js';
import { MetricsAggregator } from './aggregate.js';

/** What a metered call is about, noted by the route once it knows the deployment and version. */
export interface MetricsTarget {
  orgId: string;
  deploymentId: string;
  versionId: string | null;
}

/** A flush is due after this many calls even within the interval, so a busy isolate sends bounded batches. */
const FLUSH_AFTER_CALLS = 2_000;

const targets = new WeakMap<Request, MetricsTarget>();
// Made at the first call: a Worker may not generate random values in global scope.
let isolateAggregator: MetricsAggregator | undefined;
function aggregate(): MetricsAggregator {
  isolateAggregator ??= new MetricsAggregator(crypto.randomUUID());
  return isolateAggregator;
}
let flushing: Promise<void> | undefined;
let flushScheduled = false;

/** Marks the request as a call of this deployment and version: the metrics middleware records it. */
export function noteMetricsTarget(request: Request, target: MetricsTarget): void {
  targets.set(request, target);
}

/** METRICS_FLUSH_SECONDS (default 10) in ms. */
export function metricsFlushIntervalMs(raw: string | undefined): number {
  const seconds = raw === undefined || raw === '' ? 10 : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 25) {
    throw new Error(`METRICS_FLUSH_SECONDS must be a number in (0, 25], got ${JSON.stringify(raw)}`);
  }
  return seconds * 1000;
}

/**
 * Times every call a route marked with noteMetricsTarget, from receiving the request to the end of the route
 * (which has read the upstream answer to its last byte, or its headers when it streams the answer through),
 * and adds it with the status the caller got to the
 * isolate's aggregate. Nothing is sent per call: the first call after a flush schedules the next one
 * (`waitUntil`, METRICS_FLUSH_SECONDS later), and FLUSH_AFTER_CALLS calls bring it forward.
 */
export function recordDeploymentMetrics(): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    const receivedAt = performance.now();
    await next();
    const target = targets.get(c.req.raw);
    if (!target) return;
    // performance.now() in a Worker moves on with I/O only: the route's awaits are what it measures.
    const aggregator = aggregate();
    aggregator.add({
      ...target,
      status: c.res.status,
      latencyMs: performance.now() - receivedAt,
      atMs: Date.now(),
    });
    schedule(c.env, c.executionCtx, aggregator.calls >= FLUSH_AFTER_CALLS);
  };
}

function schedule(env: Env, ctx: ExecutionContext, now: boolean): void {
  if (now) {
    ctx.waitUntil(flush(env));
    return;
  }
  if (flushScheduled) return;
  flushScheduled = true;
  const delayMs = metricsFlushIntervalMs(env.METRICS_FLUSH_SECONDS);
  ctx.waitUntil(
    new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => {
      flushScheduled = false;
      return flush(env);
    }),
  );
}

/** Sends every sealed batch, oldest first; a failure keeps them for the next flush. One flush at a time. */
function flush(env: Env): Promise<void> {
  flushing ??= (async () => {
    const aggregator = aggregate();
    const client = new ControlPlaneClient(env, { background: true });
    for (const batch of aggregator.seal()) {
      try {
        const ack = await client.sendDeploymentMetrics(batch);
        aggregator.acknowledge(ack.batchId);
      } catch (error) {
        console.warn(
          JSON.stringify({
            level: 'warn',
            message: 'deployment metrics flush failed; batches kept for the next flush',
            error: error instanceof Error ? error.message : String(error),
            pending: aggregator.pending(),
          }),
        );
        return;
      }
    }
  })().finally(() => {
    flushing = undefined;
  });
  return flushing;
}
