import { DeploymentMetricsBatch, histogramCount } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_BATCHES, MetricsAggregator } from '../src/metrics/aggregate.js';

const at = Date.parse('2026-11-23T14:05:10Z');
const call = {
  orgId: 'org_1',
  deploymentId: 'dep_1',
  versionId: 'ver_1',
  status: 200,
  latencyMs: 4,
  atMs: at,
};

describe('edge metrics aggregate', () => {
  it('adds calls of one deployment, version and minute into one record by status class', () => {
    const agg = new MetricsAggregator('iso');
    for (let i = 0; i < 9; i += 1) agg.add(call);
    agg.add({ ...call, status: 503, latencyMs: 40 });
    agg.add({ ...call, atMs: at + 60_000 });
    const [batch, ...more] = agg.seal();
    expect(more).toHaveLength(0);
    expect(DeploymentMetricsBatch.parse(batch)).toEqual(batch);
    expect(batch?.records).toHaveLength(2);
    const first = batch?.records[0];
    expect(first?.minute).toBe('2026-11-23T14:05:00Z');
    expect(first?.requests).toEqual({ '2xx': 9, '5xx': 1 });
    expect(first && histogramCount(first.latency)).toBe(10);
  });

  it('keeps a batch with its id until acknowledged, and bounds what waits', () => {
    const agg = new MetricsAggregator('iso');
    agg.add(call);
    const [first] = agg.seal();
    agg.add(call);
    const again = agg.seal();
    expect(again.map((b) => b.batchId)).toEqual([first?.batchId, 'iso:2']);
    agg.acknowledge('iso:1');
    expect(agg.pending()).toBe(1);
    for (let i = 0; i < MAX_PENDING_BATCHES + 5; i += 1) {
      agg.add(call);
      agg.seal();
    }
    expect(agg.pending()).toBe(MAX_PENDING_BATCHES);
    expect(agg.dropped).toBeGreaterThan(0);
  });
});
