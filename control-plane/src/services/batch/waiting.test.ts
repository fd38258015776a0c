import { describe, expect, it } from 'vitest';
import { UNPLACEABLE_LIMIT_MS, waitVerdict } from './waiting.js';

const now = new Date('2026-12-07T12:00:00.000Z');
const unplaceable = { kind: 'unplaceable' as const, message: 'no online host with 1× T4 free' };
const job = (unplaceableSince: Date | null) => ({ deploymentName: 'ocr', unplaceableSince });

describe('what a job waiting on its deployment does', () => {
  it('counts the bound from when the job first found its deployment unplaceable, as stored (a restart keeps it)', () => {
    const first = waitVerdict(job(null), { suspended: false, ready: false, problem: unplaceable }, now);
    expect(first).toMatchObject({ act: 'wait', unplaceableSince: now });
    expect(first.act === 'wait' && first.statusReason).toBe(
      "the deployment 'ocr' cannot be placed: no online host with 1× T4 free; the job fails at 2026-12-07T12:15:00.000Z if no host can take it by then",
    );
    const since = new Date(now.getTime() - UNPLACEABLE_LIMIT_MS + 1);
    expect(
      waitVerdict(job(since), { suspended: false, ready: false, problem: unplaceable }, now),
    ).toMatchObject({
      act: 'wait',
      unplaceableSince: since,
    });
    const past = new Date(now.getTime() - UNPLACEABLE_LIMIT_MS);
    expect(waitVerdict(job(past), { suspended: false, ready: false, problem: unplaceable }, now)).toEqual({
      act: 'fail',
      error: {
        code: 'deployment_unplaceable',
        message:
          "no host could run the deployment 'ocr' for 15 minutes: no online host with 1× T4 free; the lines answered so far are in the output file",
      },
    });
  });

  it('starts the count again once the deployment is no longer unplaceable, and runs once a replica is ready', () => {
    const long = new Date(now.getTime() - 2 * UNPLACEABLE_LIMIT_MS);
    expect(waitVerdict(job(long), { suspended: false, ready: false, problem: null }, now)).toEqual({
      act: 'wait',
      pausedReason: 'waiting_for_replica',
      statusReason: "waiting for a replica of the deployment 'ocr' to be ready",
      unplaceableSince: null,
    });
    expect(waitVerdict(job(long), { suspended: false, ready: true, problem: unplaceable }, now)).toEqual({
      act: 'go',
    });
  });

  it('pauses while the org is suspended, whatever its deployment does', () => {
    const failed = { kind: 'failed' as const, message: 'the model did not load' };
    expect(waitVerdict(job(null), { suspended: true, ready: false, problem: failed }, now)).toMatchObject({
      act: 'pause',
      pausedReason: 'org_suspended',
    });
  });
});
