import { describe, expect, it } from 'vitest';
import { startProblem } from './start-problem';

const deployment = { name: 'fraud-api', gpuType: 't4', gpuCount: 1 } as const;
const unplaceable = (message: string) => ({
  ...deployment,
  startProblem: { kind: 'unplaceable' as const, message },
});

describe("a deployment's start problem", () => {
  it('names the hardware no host has, with the scheduler’s reason', () => {
    const reason = 'no online host with 1× T4 free with 513 MiB GPU memory each (none has any T4)';
    expect(startProblem(unplaceable(reason))).toBe(`No host can run fraud-api on t4 now: ${reason}.`);
  });

  it('reads the kind, not the wording: a refusal the scheduler words otherwise is still one', () => {
    expect(startProblem(unplaceable('every T4 in the cluster is taken'))).toBe(
      'No host can run fraud-api on t4 now: every T4 in the cluster is taken.',
    );
    expect(startProblem({ ...unplaceable('none fits'), gpuCount: 2 })).toMatch(
      /^No host can run fraud-api on t4 × 2/,
    );
  });

  it('says why a failed deployment failed', () => {
    const failed = (message: string) => ({
      ...deployment,
      startProblem: { kind: 'failed' as const, message, retryAt: '2026-12-07T07:00:00.000Z' },
    });
    expect(startProblem(failed('the model did not load'))).toBe(
      'fraud-api failed to start: the model did not load.',
    );
    expect(startProblem(failed(' '))).toBe('fraud-api failed to start: no reason was given.');
  });

  it('sees none while it is on its way, serving or idle', () => {
    expect(startProblem({ ...deployment, startProblem: null })).toBeUndefined();
  });
});
