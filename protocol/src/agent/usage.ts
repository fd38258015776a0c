import { z } from 'zod';
import { WorkloadId } from './heartbeat.js';

/** The GPU types Meridian prices; `cpu` is a host without a GPU. */
export const GPU_TYPES = ['t4', 'v100', 'rtx4090', 'cpu'] as const;
export const GpuType = z.enum(GPU_TYPES);
export type GpuType = z.infer<typeof GpuType>;

/** Seconds one workload ran on one GPU type within [from, to]. */
export const UsageEntry = z
  .strictObject({
    workloadId: WorkloadId,
    gpuType: GpuType,
    seconds: z
      .number()
      .nonnegative()
      .max(31 * 24 * 3600),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
  })
  .refine((e) => Date.parse(e.to) >= Date.parse(e.from), { message: 'must not be before from', path: ['to'] })
  .refine((e) => e.seconds <= (Date.parse(e.to) - Date.parse(e.from)) / 1000 + 1, {
    message: 'more seconds than lie between from and to',
    path: ['seconds'],
  });
export type UsageEntry = z.infer<typeof UsageEntry>;

/**
 * `POST /agent/v1/usage`. `seq` rises by at least one per report of an agent and survives its restarts;
 * the control plane counts a report only if its seq is above every seq it has counted for that agent.
 */
export const UsageReport = z.strictObject({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  entries: z.array(UsageEntry).max(1000),
});
export type UsageReport = z.infer<typeof UsageReport>;

/** The receipt: `accepted` is false for a seq already counted (a retry), which the agent treats as done. */
export const UsageAck = z.object({
  seq: z.number().int(),
  accepted: z.boolean(),
  /** The highest seq counted for this agent so far. */
  lastSeq: z.number().int().nonnegative(),
});
export type UsageAck = z.infer<typeof UsageAck>;
