import { z } from 'zod';
import { UsageRecord } from '../edge.js';

/**
 * `POST /agent/v1/prediction-usage`: the prediction calls an agent answered 200, sealed from its journal.
 * `seq` is the journal generation the records were sealed from: it rises across restarts and names exactly
 * one sealed set of calls, cut into `part`s of at most 5,000 records. The control plane stores the batch
 * `agent:<agentId>:<seq>:<part>` once, however often it is sent, into the same ledger as edge batches.
 */
export const PredictionUsageReport = z.strictObject({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  part: z.number().int().nonnegative().max(10_000),
  records: z.array(UsageRecord).min(1).max(5000),
});
export type PredictionUsageReport = z.infer<typeof PredictionUsageReport>;

/**
 * The receipt. `accepted: false`: stored before (a retry), done all the same. `refused` counts records this
 * agent may not bill (a deployment not placed on it, or not of the named org; a key of another org): they are
 * dropped, not retried.
 */
export const PredictionUsageAck = z.object({
  seq: z.number().int(),
  part: z.number().int(),
  accepted: z.boolean(),
  stored: z.number().int().nonnegative(),
  refused: z.number().int().nonnegative(),
});
export type PredictionUsageAck = z.infer<typeof PredictionUsageAck>;

/** One data-plane key of an agent: HMAC-SHA256 of the platform key (see `agentKeyDerivationText`), hex. */
export const DataPlaneKey = z.object({
  generation: z.number().int().positive(),
  key: z.string().regex(/^[0-9a-f]{64}$/),
});
export type DataPlaneKey = z.infer<typeof DataPlaneKey>;
