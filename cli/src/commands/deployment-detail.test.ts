import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { deploymentDetail, phaseLine, rolloutLine, versionCell } from './deployment-detail.js';

type Deployment = Schema<'Deployment'>;
type Rollout = NonNullable<Deployment['rollout']>;

const deployment = (over: Partial<Deployment> = {}): Deployment =>
  ({
    id: 'dep_1',
    name: 'ocr-cls',
    modelName: 'ocr-cls',
    version: { id: 'mdv_1', version: 3, requested: 'alias:production' },
    runtime: 'onnx',
    image: null,
    gpuType: 'cpu',
    gpuCount: 0,
    minReplicas: 0,
    maxReplicas: 3,
    targetConcurrency: 4,
    scaleUpDelaySeconds: 0,
    scaleDownDelaySeconds: 30,
    scaleToZeroAfterSeconds: 600,
    holdTimeoutSeconds: 30,
    desiredReplicas: 2,
    batching: { maxBatchSize: 8, maxQueueDelayMs: 2 },
    deterministic: true,
    status: 'ready',
    statusReason: null,
    replicas: { total: 2, pending: 0, pulling: 0, loading: 1, ready: 1, failed: 0, stopped: 0 },
    rollout: null,
    createdAt: '2026-12-04T10:00:00.000Z',
    ...over,
  }) as Deployment;

const canary: Rollout = {
  revision: 4,
  version: 4,
  baseRevision: 3,
  baseVersion: 3,
  state: 'canary',
  step: 1,
  steps: [0.1, 0.5, 1],
  share: 0.1,
  windowSeconds: 60,
  maxErrorRateIncrease: 0.05,
  maxP95LatencyRatio: 2,
  p95LatencySlackMs: 10,
  minCalls: 20,
  stepStartedAt: '2026-12-04T10:05:00.000Z',
  figures: {
    canary: { calls: 12, errors: 0, errorRate: 0, p95Ms: 4.2 },
    base: { calls: 108, errors: 1, errorRate: 0.009, p95Ms: null },
    judgedAt: '2026-12-04T10:05:30.000Z',
  },
  reason: null,
  createdAt: '2026-12-04T10:04:58.000Z',
  finishedAt: null,
};

describe('deployments get', () => {
  it('shows the version by number, the replicas by phase, and every setting in words', () => {
    expect(deploymentDetail(deployment(), 'http://127.0.0.1:8787/')).toBe(
      [
        'ocr-cls (dep_1)',
        '  model       ocr-cls v3 (alias production)',
        '  status      ready',
        '  replicas    1 of 2 ready; loading 1',
        '  scaling     0–3 replicas, 4 calls in flight per replica; up after 0s, down after 30s, to zero after 10m without calls',
        '  cold calls  held up to 30s while no replica is ready',
        '  runs on     cpu, onnx',
        '  batching    up to 8 calls together, a call waits up to 2 ms for others',
        "  cache       repeats of an input are answered from the edge's cache",
        '  predict     POST http://127.0.0.1:8787/v2/models/ocr-cls/infer',
        '  created     2026-12-04T10:00:00.000Z',
      ].join('\n'),
    );
    const fixed = deploymentDetail(
      deployment({
        minReplicas: 1,
        maxReplicas: 1,
        scaleToZeroAfterSeconds: null,
        batching: null,
        deterministic: false,
        gpuType: 't4',
        gpuCount: 2,
        runtime: 'container',
        image: 'ghcr.io/acme/server:1',
        replicas: { total: 0, pending: 0, pulling: 0, loading: 0, ready: 0, failed: 0, stopped: 0 },
      }),
      'https://edge.example',
    );
    expect(fixed).toContain(
      '  scaling     1 replica, 4 calls in flight per replica; up after 0s, down after 30s, never to zero',
    );
    expect(fixed).toContain('  replicas    0 of 2 ready; none running');
    expect(fixed).toContain('  runs on     2 × t4, container (ghcr.io/acme/server:1)');
    expect(fixed).toContain("  batching    the agent's own (up to 32 calls, no added delay)");
    expect(fixed).toContain('  cache       off');
  });

  it('says why it cannot start, from the start problem rather than the status wording', () => {
    const failed = deploymentDetail(
      deployment({
        status: 'loading',
        statusReason: 'attempt 2, after a failure on agent agt_1',
        startProblem: {
          kind: 'failed',
          message: 'onnxruntime could not load a file on the host',
          retryAt: '2026-12-04T10:01:00.000Z',
        },
      }),
      'https://edge.example',
    );
    expect(failed).toContain(
      '  cannot start  its last start failed: onnxruntime could not load a file on the host; next attempt at 2026-12-04T10:01:00.000Z',
    );
    const unplaceable = deploymentDetail(
      deployment({
        status: 'pending',
        startProblem: { kind: 'unplaceable', message: 'no online host with 1× T4 free (none has any T4)' },
      }),
      'https://edge.example',
    );
    expect(unplaceable).toContain(
      '  cannot start  no host fits its replicas now: no online host with 1× T4 free (none has any T4)',
    );
    expect(deploymentDetail(deployment({ startProblem: null }), 'https://edge.example')).not.toContain(
      'cannot start',
    );
  });

  it('says when the alias a deployment was asked by has moved on or gone, and how to follow it', () => {
    const model = (d: Deployment, aliasNow?: number | null) =>
      deploymentDetail(d, 'http://127.0.0.1:8787', aliasNow).split('\n')[1];
    expect(model(deployment(), 3)).toBe('  model       ocr-cls v3 (alias production)');
    expect(model(deployment(), 4)).toBe(
      '  model       ocr-cls v3 (asked as alias production, which now names v4: `meridian deploy ocr-cls --alias production` serves it)',
    );
    expect(model(deployment({ name: 'ocr-eu' }), 4)).toContain(
      '`meridian deploy ocr-cls --name ocr-eu --alias production`',
    );
    expect(model(deployment(), null)).toBe(
      '  model       ocr-cls v3 (asked as alias production, deleted since)',
    );
    const byNumber = deployment({ version: { id: 'mdv_1', version: 3, requested: 'version:3' } });
    expect(model(byNumber)).toBe('  model       ocr-cls v3');
  });

  it('shows a running canary with its step, share and the figures it was last judged on', () => {
    const text = deploymentDetail(deployment({ rollout: canary }), 'http://edge');
    expect(text).toContain(
      '  rollout     canary v4: step 1 of 2, 10% of calls (v4 12 calls, 0 5xx, p95 4 ms; v3 108 calls, 1 5xx, p95 —)',
    );
    expect(rolloutLine({ ...canary, stepStartedAt: null, figures: null })).toBe(
      'canary v4: step 1 of 2, 10% of calls, its replicas starting (no calls judged yet)',
    );
  });

  it('lists the version serving, and the canary’s beside it while it runs', () => {
    expect(versionCell(deployment())).toBe('3');
    expect(versionCell(deployment({ rollout: canary }))).toBe('3 → 4 (10%)');
    expect(versionCell(deployment({ rollout: { ...canary, state: 'promoted' } }))).toBe('3');
  });

  it('says how a rollout ended', () => {
    const finishedAt = '2026-12-04T10:09:00.000Z';
    expect(rolloutLine({ ...canary, state: 'promoted', finishedAt })).toBe(
      'canary v4 promoted at 2026-12-04T10:09:00.000Z',
    );
    const reason = 'canary v4 (revision 4) rolled back: 5xx 100% vs 0% over 2 calls';
    expect(rolloutLine({ ...canary, state: 'rolled_back', reason })).toBe(reason);
    expect(rolloutLine({ ...canary, state: 'rolled_back', reason: null })).toBe('canary v4 rolled back');
    expect(rolloutLine({ ...canary, state: 'cancelled', reason: null })).toBe('canary v4 cancelled');
  });

  it('counts ready replicas against what the autoscaler wants in the one-line phase', () => {
    expect(phaseLine(deployment({ statusReason: 'scaling up' }))).toBe(
      'ocr-cls: ready (scaling up) — 1/2 replicas ready',
    );
    // A rolling update: the new replica is ready and the old one still finishes its calls.
    const rolling = deployment({
      desiredReplicas: 1,
      replicas: { total: 2, pending: 0, pulling: 0, loading: 0, ready: 2, failed: 0, stopped: 0 },
    });
    expect(phaseLine(rolling)).toBe('ocr-cls: ready — 1/1 replicas ready (+1 retiring)');
    // While a canary runs, the replica beyond the target is the canary's.
    expect(phaseLine({ ...rolling, rollout: canary })).toBe(
      'ocr-cls: ready — 1/1 replicas ready (+1 canary)',
    );
  });

  it('says plainly how many replicas are ready of those wanted, and how many are retiring', () => {
    const line = (over: Partial<Deployment>) =>
      /\n {2}replicas {4}(.*)\n/.exec(deploymentDetail(deployment(over), 'http://edge'))?.[1];
    const ready = (n: number) => ({
      total: n,
      pending: 0,
      pulling: 0,
      loading: 0,
      ready: n,
      failed: 0,
      stopped: 0,
    });
    // Scaled to zero while its last replica finishes its calls: once "0/0 (+1 retiring) ready (ready 1)".
    expect(line({ desiredReplicas: 0, replicas: ready(1) })).toBe(
      '0 of 0 ready, 1 retiring (taking no new calls)',
    );
    // A rolling update: the new replica ready, the old one out of routing and finishing its calls.
    expect(line({ desiredReplicas: 1, replicas: ready(2) })).toBe(
      '1 of 1 ready, 1 retiring (taking no new calls)',
    );
    expect(line({ desiredReplicas: 1, replicas: ready(2), rollout: canary })).toBe('1 of 1 ready, 1 canary');
    expect(line({ desiredReplicas: 1, replicas: ready(1) })).toBe('1 of 1 ready');
  });
});
