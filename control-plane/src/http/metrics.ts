import type { MiddlewareHandler } from 'hono';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { AppEnv } from './context.js';

/** One registry per app instance, so several apps in one test process do not share counters. */
type Label = 'method' | 'route' | 'status';

export function createMetrics(collectDefaults: boolean) {
  const registry = new Registry();
  if (collectDefaults) collectDefaultMetrics({ register: registry, prefix: 'meridian_cp_' });
  const requests = new Counter({
    name: 'meridian_cp_http_requests_total',
    help: 'HTTP requests by method, matched route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'meridian_cp_http_request_duration_seconds',
    help: 'HTTP request duration by method, matched route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  // Label children cached by key: prom-client otherwise hashes the label object on every call.
  const children = new Map<string, { count: Counter.Internal; time: Histogram.Internal<Label> }>();
  const childFor = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = { count: requests.labels(method, route, status), time: duration.labels(method, route, status) };
      children.set(key, child);
    }
    return child;
  };

  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const started = performance.now();
    await next();
    // The matched pattern (`/v1/api-keys/:id`), never the raw path, keeps label cardinality bounded.
    const route = c.req.routePath === '/*' || !c.req.routePath ? 'unmatched' : c.req.routePath;
    const child = childFor(c.req.method, route, String(c.res.status));
    child.count.inc();
    child.time.observe((performance.now() - started) / 1000);
  };
  return { registry, middleware };
}

/** Counters of the password work: how many checks ran (what throttling tests read) and how many were refused. */
export function passwordCounters(registry: Registry) {
  const checks = new Counter({
    name: 'meridian_cp_password_checks_total',
    help: 'Password checks (scrypt verifications) performed: logins and password changes',
    registers: [registry],
  });
  const refused = new Counter({
    name: 'meridian_cp_password_work_refused_total',
    help: 'Password hashes or checks refused with 429 because the bounded scrypt queue was full',
    registers: [registry],
  });
  return { onCheck: () => checks.inc(), onRefused: () => refused.inc() };
}
