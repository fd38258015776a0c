import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { parseCanarySteps, settingsFrom } from './deploy-settings.js';

const existing = (batching: Schema<'Deployment'>['batching']) =>
  ({ id: 'dep_1', name: 'ocr', batching }) as Schema<'Deployment'>;

/** The usage error a flag gets (exit 2), its message. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('no refusal');
}

describe('deploy settings', () => {
  it('sends only the settings given, each in the API’s unit', () => {
    expect(settingsFrom({}, undefined)).toEqual({});
    expect(
      settingsFrom(
        {
          min: '0',
          max: '3',
          targetConcurrency: '4',
          scaleToZeroAfter: '10m',
          scaleUpDelay: '15s',
          scaleDownDelay: '2m',
          holdTimeout: '45',
          deterministic: true,
        },
        undefined,
      ),
    ).toEqual({
      minReplicas: 0,
      maxReplicas: 3,
      targetConcurrency: 4,
      scaleToZeroAfterSeconds: 600,
      scaleUpDelaySeconds: 15,
      scaleDownDelaySeconds: 120,
      holdTimeoutSeconds: 45,
      deterministic: true,
    });
    expect(settingsFrom({ scaleToZeroAfter: 'never', deterministic: false }, undefined)).toEqual({
      scaleToZeroAfterSeconds: null,
      deterministic: false,
    });
  });

  it('keeps the half of the batch settings not given, from the deployment or the agent’s defaults', () => {
    expect(settingsFrom({ maxBatchSize: '8' }, undefined)).toEqual({
      batching: { maxBatchSize: 8, maxQueueDelayMs: 0 },
    });
    expect(settingsFrom({ maxQueueDelay: '5ms' }, undefined)).toEqual({
      batching: { maxBatchSize: 32, maxQueueDelayMs: 5 },
    });
    const batched = existing({ maxBatchSize: 16, maxQueueDelayMs: 3 });
    expect(settingsFrom({ maxQueueDelay: '7' }, batched)).toEqual({
      batching: { maxBatchSize: 16, maxQueueDelayMs: 7 },
    });
    expect(settingsFrom({ defaultBatching: true }, batched)).toEqual({ batching: null });
    expect(refusal(() => settingsFrom({ defaultBatching: true, maxBatchSize: '4' }, batched))).toMatch(
      /--default-batching drops the batch settings/,
    );
  });

  it('refuses values out of the API’s bounds before any request, naming the flag and its range', () => {
    expect(refusal(() => settingsFrom({ min: '21' }, undefined))).toBe(
      '--min wants a whole number from 0 to 20, not 21',
    );
    expect(refusal(() => settingsFrom({ max: '0' }, undefined))).toMatch(/^--max wants a whole number/);
    expect(refusal(() => settingsFrom({ targetConcurrency: '1.5' }, undefined))).toMatch(
      /^--target-concurrency/,
    );
    expect(refusal(() => settingsFrom({ holdTimeout: '10m' }, undefined))).toBe(
      '--hold-timeout must be from 1s to 5m, not 10m',
    );
    expect(refusal(() => settingsFrom({ scaleDownDelay: 'soon' }, undefined))).toMatch(
      /^--scale-down-delay wants a duration/,
    );
    expect(refusal(() => settingsFrom({ maxBatchSize: '0' }, undefined))).toMatch(/^--max-batch-size/);
    expect(refusal(() => settingsFrom({ maxQueueDelay: '2s' }, undefined))).toMatch(/^--max-queue-delay/);
  });

  it('reads canary steps as percentages or shares, rising, and only for a deployment that exists', () => {
    expect(parseCanarySteps('10%,50%')).toEqual([0.1, 0.5]);
    expect(parseCanarySteps('0.1, 0.5, 1')).toEqual([0.1, 0.5, 1]);
    expect(parseCanarySteps('12.5%')).toEqual([0.125]);
    for (const bad of ['', '0%', '150%', '50%,10%', '10%,10%', 'half', '10'])
      expect(refusal(() => parseCanarySteps(bad))).toMatch(/^--canary/);
    expect(settingsFrom({ canary: '25%', canaryWindow: '30s', canaryMinCalls: '5' }, existing(null))).toEqual(
      {
        canary: { steps: [0.25], windowSeconds: 30, minCalls: 5 },
      },
    );
    expect(refusal(() => settingsFrom({ canary: '25%' }, undefined))).toMatch(/create it first/);
    expect(refusal(() => settingsFrom({ canaryWindow: '30s' }, existing(null)))).toBe(
      '--canary-window, --canary-min-calls and --canary-max-p95 go with --canary',
    );
  });

  it('reads --canary-max-p95 as a ratio from 1 to 100, or off for latency not judged', () => {
    const p95 = (canaryMaxP95: string) =>
      settingsFrom({ canary: '50%', canaryMaxP95 }, existing(null)).canary?.maxP95LatencyRatio;
    expect([p95('3'), p95('1.5'), p95('x4'), p95('×2'), p95('off')]).toEqual([3, 1.5, 4, 2, null]);
    for (const bad of ['0.5', '101', 'none', '', '-2', '2x'])
      expect(refusal(() => p95(bad))).toBe(
        `--canary-max-p95 wants a ratio from 1 to 100 (e.g. 3) or off, not ${bad}`,
      );
    expect(refusal(() => settingsFrom({ canaryMaxP95: 'off' }, existing(null)))).toMatch(/go with --canary$/);
  });
});
