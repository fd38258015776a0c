/**
 * Whether a usage record names a batch job as its caller. The runner signs its calls with the job's id as the
 * user (`batch_…`, which no user id can be): the agent journals them like any call, and the ledger skips
 * them there, because the job has already billed each answered line in its shard checkpoint.
 */
export function isBatchJobCaller(record: { keyId: string | null; userId: string | null }): boolean {
  return record.keyId === null && record.userId !== null && record.userId.startsWith('batch_');
}
