import { describe, expect, it } from 'vitest';
import {
  DeploymentMetricsRecord,
  emptyHistogram,
  histogramCount,
  histogramQuantile,
  LATENCY_BUCKETS,
  latencyBucketOf,
  mergeHistogram,
  observeLatency,
  statusClassOf,
} from './deployment-metrics.js';

describe('deployment metrics', () => {
  it('classes statuses and puts a bound into its own bucket', () => {
    expect([200, 204, 301, 404, 429, 503, 0].map(statusClassOf)).toEqual([
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      '5xx',
    ]);
    expect(latencyBucketOf(0)).toBe(0);
    expect(latencyBucketOf(1)).toBe(0);
    expect(latencyBucketOf(1.01)).toBe(1);
    expect(latencyBucketOf(1e9)).toBe(LATENCY_BUCKETS - 1);
  });

  it('merges histograms bucket by bucket and reads quantiles inside a bucket', () => {
    const a = emptyHistogram();
    const b = emptyHistogram();
    for (let i = 0; i < 90; i += 1) observeLatency(a, 3);
    for (let i = 0; i < 10; i += 1) observeLatency(b, 200);
    mergeHistogram(a, b);
    expect(histogramCount(a)).toBe(100);
    expect(a.sumMs).toBe(90 * 3 + 10 * 200);
    const p50 = histogramQuantile(a, 0.5) ?? -1;
    expect(p50).toBeGreaterThan(2.5);
    expect(p50).toBeLessThanOrEqual(5);
    const p95 = histogramQuantile(a, 0.95) ?? -1;
    expect(p95).toBeGreaterThan(100);
    expect(p95).toBeLessThanOrEqual(250);
    expect(histogramQuantile(emptyHistogram(), 0.5)).toBeNull();
  });

  it('refuses a histogram with the wrong number of buckets', () => {
    const record = {
      orgId: 'org_1',
      deploymentId: 'dep_1',
      versionId: null,
      minute: '2026-11-23T14:05:00Z',
      requests: { '2xx': 3 },
      latency: { counts: [1, 2], sumMs: 3 },
    };
    expect(DeploymentMetricsRecord.safeParse(record).success).toBe(false);
    expect(DeploymentMetricsRecord.safeParse({ ...record, latency: emptyHistogram() }).success).toBe(true);
    expect(DeploymentMetricsRecord.safeParse({ ...record, requests: { '6xx': 1 } }).success).toBe(false);
  });
});
