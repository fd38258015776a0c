import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { InferenceMetrics } from './metrics.js';

/**
 * Prometheus' own door to the inference metrics: `GET /metrics` and nothing else, with no signature, since
 * a scraper cannot sign like the edge. The data plane's `/metrics` stays behind the signature.
 */
export function createMetricsApp(metrics: InferenceMetrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.notFound((c) => c.text('not found', 404));
  return app;
}

export interface MetricsListener {
  /** `http://host:port`, with the port actually bound (port 0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

/** Serves `createMetricsApp` on `host:port`; rejects when the address cannot be bound (taken, not local). */
export function startMetricsListener(
  metrics: InferenceMetrics,
  address: { host: string; port: number },
): Promise<MetricsListener> {
  const app = createMetricsApp(metrics);
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: address.host, port: address.port },
      (info: AddressInfo) => {
        const host = address.host.includes(':') ? `[${address.host}]` : address.host;
        resolve({
          url: `http://${host}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              if ('closeAllConnections' in server) server.closeAllConnections();
            }),
        });
      },
    );
    server.once('error', reject);
  });
}
