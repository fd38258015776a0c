import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { canarySteps, draftOf, settingsPatch } from './serving-settings';

const deployment = (over: Partial<Schema<'Deployment'>> = {}) =>
  ({
    id: 'dep_1',
    minReplicas: 1,
    maxReplicas: 2,
    targetConcurrency: 16,
    scaleToZeroAfterSeconds: null,
    scaleUpDelaySeconds: 0,
    scaleDownDelaySeconds: 30,
    holdTimeoutSeconds: 30,
    batching: null,
    deterministic: false,
    ...over,
  }) as Schema<'Deployment'>;

describe('the scaling and serving form', () => {
  it('sends only what changed, so a save never resets what someone else set meanwhile', () => {
    const d = deployment();
    expect(settingsPatch(d, draftOf(d))).toEqual({});
    const draft = { ...draftOf(d), targetConcurrency: '4', holdTimeoutSeconds: ' 45 ', deterministic: true };
    expect(settingsPatch(d, draft)).toEqual({
      targetConcurrency: 4,
      holdTimeoutSeconds: 45,
      deterministic: true,
    });
  });

  it('sends batch settings as a pair, and none (the agent’s own) when they are switched off', () => {
    const d = deployment();
    const own = { ...draftOf(d), ownBatching: true, maxBatchSize: '8', maxQueueDelayMs: '2' };
    expect(settingsPatch(d, own)).toEqual({ batching: { maxBatchSize: 8, maxQueueDelayMs: 2 } });
    const batched = deployment({ batching: { maxBatchSize: 8, maxQueueDelayMs: 2 } });
    expect(draftOf(batched)).toMatchObject({ ownBatching: true, maxBatchSize: '8', maxQueueDelayMs: '2' });
    expect(settingsPatch(batched, { ...draftOf(batched), ownBatching: false })).toEqual({ batching: null });
  });

  it('sends scale-to-zero time only with a minimum of 0, and empty as never', () => {
    const d = deployment();
    expect(settingsPatch(d, { ...draftOf(d), minReplicas: '0', scaleToZeroAfterSeconds: '600' })).toEqual({
      minReplicas: 0,
      scaleToZeroAfterSeconds: 600,
    });
    // A time typed, then the minimum raised again: the API would refuse the pair.
    expect(settingsPatch(d, { ...draftOf(d), scaleToZeroAfterSeconds: '600' })).toEqual({});
    const zero = deployment({ minReplicas: 0, scaleToZeroAfterSeconds: 300 });
    expect(draftOf(zero).scaleToZeroAfterSeconds).toBe('300');
    expect(settingsPatch(zero, { ...draftOf(zero), scaleToZeroAfterSeconds: '' })).toEqual({
      scaleToZeroAfterSeconds: null,
    });
  });

  it('names the field whose text is not a whole number', () => {
    const d = deployment();
    expect(() => settingsPatch(d, { ...draftOf(d), maxReplicas: '2.5' })).toThrow(
      'Maximum replicas: a whole number, not “2.5”',
    );
    expect(() => settingsPatch(d, { ...draftOf(d), scaleDownDelaySeconds: '' })).toThrow(/^Scale-down delay/);
  });
});

describe('canary steps as typed', () => {
  it('reads percentages, with or without %, rising', () => {
    expect(canarySteps('10, 50')).toEqual([0.1, 0.5]);
    expect(canarySteps('5% 25% 100%')).toEqual([0.05, 0.25, 1]);
    expect(() => canarySteps('')).toThrow(/at least one share/);
    expect(() => canarySteps('50, 10')).toThrow(/larger share/);
    expect(() => canarySteps('0')).toThrow(/“0” is not a percentage/);
    expect(() => canarySteps('150')).toThrow(/“150” is not a percentage/);
    expect(() => canarySteps('half')).toThrow(/“half”/);
  });
});
