import { describe, expect, it } from 'vitest';
import { startProblem } from './start-problem';

const deployment = { name: 'fraud-api', gpuType: 't4', gpuCount: 1 } as const;
const pending = (statusReason: string | null) => ({
  ...deployment,
  status: 'pending' as const,
  statusReason,
});

describe("a deployment's start problem", () => {
  it('names the hardware no host has, with the scheduler’s reason', () => {
    const reason = 'no online host with 1× T4 free with 513 MiB GPU memory each (none has any T4)';
    expect(startProblem(pending(reason))).toBe(`No host can run fraud-api on t4 now: ${reason}.`);
  });

  it('sees a refusal after the retry note, and with no host online at all', () => {
    expect(
      startProblem(pending('attempt 2, after a failure on agent agt_1: no online host with 2× T4 free')),
    ).toMatch(/^No host can run fraud-api on t4 now: attempt 2/);
    expect(startProblem(pending('no online hosts (1 lost)'))).toMatch(/^No host can run/);
  });

  it('says why a failed deployment failed', () => {
    expect(startProblem({ ...deployment, status: 'failed', statusReason: 'the model did not load' })).toBe(
      'fraud-api failed to start: the model did not load.',
    );
    expect(startProblem({ ...deployment, status: 'failed', statusReason: null })).toBe(
      'fraud-api failed to start: no reason was given.',
    );
  });

  it('sees none while it is on its way or serving', () => {
    for (const reason of [null, 'waiting to be placed', 'rolling out version 2'])
      expect(startProblem(pending(reason))).toBeUndefined();
    for (const status of ['scheduled', 'pulling', 'loading', 'ready', 'idle'] as const)
      expect(startProblem({ ...deployment, status, statusReason: null })).toBeUndefined();
  });
});
