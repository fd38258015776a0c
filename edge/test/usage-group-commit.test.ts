import type { UsageRecord } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { UsageGroupCommit } from '../src/usage/usage-group-commit.js';

const record = (i: number): UsageRecord => ({
  orgId: 'org_a',
  keyId: `key_${i}`,
  userId: null,
  deploymentId: 'dep_a',
  minute: '2031-05-14T12:00:00Z',
  calls: 1,
  bytesIn: i,
  bytesOut: 0,
});

/** A sink whose writes finish only when the test lets them, so groups can be watched forming. */
function gatedSink() {
  const writes: { records: UsageRecord[]; finish: (error?: Error) => void }[] = [];
  const sink = (records: UsageRecord[]) =>
    new Promise<void>((resolve, reject) => {
      writes.push({ records, finish: (error) => (error ? reject(error) : resolve()) });
    });
  return { writes, sink };
}

describe('usage group commit', () => {
  it('writes a lone record at once, and every record arriving meanwhile in one next write', async () => {
    const groups = new UsageGroupCommit();
    const { writes, sink } = gatedSink();
    const first = groups.record('org_a', record(0), sink);
    await Promise.resolve();
    await Promise.resolve();
    expect(writes).toHaveLength(1);

    const rest = Array.from({ length: 49 }, (_, i) => groups.record('org_a', record(i + 1), sink));
    let restSettled = false;
    void Promise.all(rest).then(() => {
      restSettled = true;
    });
    writes[0]?.finish();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(writes).toHaveLength(2);
    expect(writes[1]?.records).toHaveLength(49);
    expect(restSettled).toBe(false);

    writes[1]?.finish();
    await Promise.all(rest);
    expect(writes).toHaveLength(2);
  });

  it('fails only the callers whose write failed; the next group is written anyway', async () => {
    const groups = new UsageGroupCommit();
    const { writes, sink } = gatedSink();
    const first = groups.record('org_a', record(0), sink);
    await Promise.resolve();
    await Promise.resolve();
    const second = groups.record('org_a', record(1), sink);
    writes[0]?.finish(new Error('storage unavailable'));
    await expect(first).rejects.toThrow('storage unavailable');
    await new Promise((resolve) => setTimeout(resolve, 0));
    writes[1]?.finish();
    await expect(second).resolves.toBeUndefined();
  });
});
