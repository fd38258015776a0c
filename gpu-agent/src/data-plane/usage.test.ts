import { usageHeaders } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import type { ServedCall } from '../agent/usage-journal.js';
import { CallerGoneError, journalServed } from './usage.js';

const identity = usageHeaders({ orgId: 'org_a', keyId: 'key_a', userId: null });
const header = (name: string) => identity[name];
const ok = { status: 200, headers: {}, body: new Uint8Array(10) };

/** A journal that keeps what it is given (the real one is tested in usage-journal.test.ts). */
function recorder() {
  const calls: ServedCall[] = [];
  return { calls, record: async (call: ServedCall) => void calls.push(call) };
}

describe('journaling a served call', () => {
  it('records a 200 under the signed identity before it is answered', async () => {
    const journal = recorder();
    await expect(journalServed(journal, header, { deploymentId: 'dep_a', bytesIn: 4 }, ok)).resolves.toBe(ok);
    expect(journal.calls).toEqual([
      { orgId: 'org_a', keyId: 'key_a', userId: null, deploymentId: 'dep_a', bytesIn: 4, bytesOut: 10 },
    ]);
  });

  it("records the caller's Idempotency-Key with the call when the edge signed one", async () => {
    const journal = recorder();
    const keyed = usageHeaders({ orgId: 'org_a', keyId: 'key_a', userId: null, idempotencyKey: 'k-1' });
    await journalServed(journal, (name) => keyed[name], { deploymentId: 'dep_a', bytesIn: 4 }, ok);
    expect(journal.calls).toEqual([
      {
        orgId: 'org_a',
        keyId: 'key_a',
        userId: null,
        idempotencyKey: 'k-1',
        deploymentId: 'dep_a',
        bytesIn: 4,
        bytesOut: 10,
      },
    ]);
  });

  it('records nothing, and answers nothing, when the edge hung up while the model ran', async () => {
    const journal = recorder();
    const served = journalServed(journal, header, { deploymentId: 'dep_a', bytesIn: 4 }, ok, () => true);
    await expect(served).rejects.toBeInstanceOf(CallerGoneError);
    expect(journal.calls).toEqual([]);
  });
});
