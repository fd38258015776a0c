import { z } from 'zod';
import { IDEMPOTENCY_KEY } from './oip/signature.js';

// What the edge and the control plane say to each other besides API-key resolution (./api-keys.ts) and the
// routing snapshot (./routing.ts): org plans and suspension, notebook proxy targets, usage batches.

export const PLANS = ['free', 'pro', 'enterprise'] as const;
export const Plan = z.enum(PLANS);
export type Plan = z.infer<typeof Plan>;

/** The catalogue's plan limits; null is "no platform limit" (Enterprise: contracted limits apply). */
export const PLAN_LIMITS: Readonly<Record<Plan, { monthlyCalls: number | null; models: number | null }>> = {
  free: { monthlyCalls: 1_000, models: 1 },
  pro: { monthlyCalls: 100_000, models: 10 },
  enterprise: { monthlyCalls: null, models: null },
};

/** `GET /internal/v1/orgs/{orgId}`: what the edge enforces for an org. */
export const OrgStatus = z.object({
  orgId: z.string(),
  plan: Plan,
  /** Prediction calls allowed per calendar month (UTC); null: unlimited. */
  monthlyCallQuota: z.number().int().nonnegative().nullable(),
  /** A suspended org (payment failed) gets 402 on every prediction. */
  suspended: z.boolean(),
  suspendedReason: z.string().nullable(),
});
export type OrgStatus = z.infer<typeof OrgStatus>;

/** `GET /internal/v1/notebooks/{id}`: where the edge proxies a notebook, and whose it is. */
export const NotebookTarget = z.object({
  notebookId: z.string(),
  /** The owner's name for it, for the pages the edge shows them; absent from an older control plane. */
  name: z.string().optional(),
  orgId: z.string(),
  ownerId: z.string(),
  status: z.string(),
  /** The notebook server's base URL on its agent (ends with `/notebooks/<id>/`); null while not running. */
  endpoint: z.string().nullable(),
  /** The server's own token, which the edge adds when it forwards; never shown to the caller. */
  token: z.string(),
});
export type NotebookTarget = z.infer<typeof NotebookTarget>;

const MINUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00(\.000)?Z$/;

/** Successful prediction calls of one (org, caller, deployment, minute), with the bytes they moved. */
export const UsageRecord = z
  .strictObject({
    orgId: z.string().min(1).max(64),
    /** The API key that called, or null for a user's token (then `userId`). */
    keyId: z.string().max(64).nullable(),
    userId: z.string().max(64).nullable(),
    deploymentId: z.string().min(1).max(64),
    /** Start of the UTC minute, e.g. `2026-11-23T14:05:00Z`. */
    minute: z.string().regex(MINUTE, 'the start of a UTC minute, e.g. 2026-11-23T14:05:00Z'),
    calls: z.number().int().positive().max(1e9),
    bytesIn: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    bytesOut: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    /**
     * The caller's Idempotency-Key: the record is that one call (`calls: 1`), and the control plane bills a
     * key once per org within its window however many records name it (a retry served again).
     */
    idempotencyKey: z.string().regex(IDEMPOTENCY_KEY).optional(),
  })
  .refine((r) => r.idempotencyKey === undefined || r.calls === 1, {
    message: 'a record with an idempotencyKey is one call',
    path: ['calls'],
  });
export type UsageRecord = z.infer<typeof UsageRecord>;

/**
 * `POST /internal/v1/usage`: a sealed batch of usage from one edge counter. `batchId` is stable across
 * retries of the same batch, so the control plane stores a batch once however often it is sent.
 */
export const UsageBatch = z.strictObject({
  batchId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/),
  records: z.array(UsageRecord).min(1).max(5000),
});
export type UsageBatch = z.infer<typeof UsageBatch>;

/** `accepted: false` means the batch was stored before (a retry); the edge treats both as done. */
export const UsageBatchAck = z.object({ batchId: z.string(), accepted: z.boolean() });
export type UsageBatchAck = z.infer<typeof UsageBatchAck>;
