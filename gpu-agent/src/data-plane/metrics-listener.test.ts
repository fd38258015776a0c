import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataPlaneApp } from './app.js';
import { InferenceMetrics } from './metrics.js';
import { type MetricsListener, startMetricsListener } from './metrics-listener.js';
import { staticRegistry } from './models.js';

const metrics = new InferenceMetrics();
let listener: MetricsListener;

beforeAll(async () => {
  metrics.forModel('dep_scraped', 'mdv_1').success.inc(3);
  listener = await startMetricsListener(metrics, { host: '127.0.0.1', port: 0 });
});
afterAll(() => listener.close());

describe('the metrics listener', () => {
  it('answers a scrape with the Triton-style metrics text, no signature asked', async () => {
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${listener.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE nv_inference_request_success counter');
    expect(text).toContain('nv_inference_request_success{model="dep_scraped",version="mdv_1"} 3');
  });

  it('serves nothing but /metrics', async () => {
    expect((await fetch(`${listener.url}/v2/health/ready`)).status).toBe(404);
    expect((await fetch(`${listener.url}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('leaves the data plane’s own /metrics behind the edge signature', async () => {
    const app = createDataPlaneApp({ models: staticRegistry([]), metrics, signingKey: () => undefined });
    expect((await app.fetch(new Request('http://agent/metrics'))).status).toBe(401);
  });

  it('fails to start on an address already taken', async () => {
    const port = Number(new URL(listener.url).port);
    await expect(startMetricsListener(metrics, { host: '127.0.0.1', port })).rejects.toThrow(/EADDRINUSE/);
  });
});
