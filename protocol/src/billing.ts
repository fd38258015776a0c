import type { GpuType } from './agent/usage.js';

/**
 * Meridian's price catalogue and the one rounding rule every billed figure follows. Usage is recorded raw
 * (calls, seconds, byte-hours) in the ledger; it becomes billable quantities per (org, meter, UTC hour
 * window) here, and the same function feeds the local invoice and the Stripe meter events, so both agree.
 */
export const METERS = [
  'inference_calls',
  'gpu_t4_minutes',
  'gpu_v100_minutes',
  'gpu_rtx4090_minutes',
  'cpu_minutes',
  'storage_mb_hours',
] as const;
export type Meter = (typeof METERS)[number];

export interface MeterPrice {
  meter: Meter;
  /** What one billable unit is. */
  unit: 'call' | 'minute' | 'MB-hour';
  /** The raw unit the ledger records for this meter. */
  rawUnit: 'call' | 'second' | 'byte-hour';
  /** USD per billable unit, as a decimal string (exact; storage needs more places than cents allow). */
  usdPerUnit: string;
  description: string;
}

const HOURS_PER_MONTH = 730;

export const PRICES: Readonly<Record<Meter, MeterPrice>> = {
  inference_calls: {
    meter: 'inference_calls',
    unit: 'call',
    rawUnit: 'call',
    usdPerUnit: '0.001',
    description: 'Inference: $0.001 per call',
  },
  gpu_t4_minutes: {
    meter: 'gpu_t4_minutes',
    unit: 'minute',
    rawUnit: 'second',
    usdPerUnit: '0.02',
    description: 'Tesla T4: $1.20 per hour, by the minute',
  },
  gpu_v100_minutes: {
    meter: 'gpu_v100_minutes',
    unit: 'minute',
    rawUnit: 'second',
    usdPerUnit: '0.05',
    description: 'Tesla V100: $3.00 per hour, by the minute',
  },
  gpu_rtx4090_minutes: {
    meter: 'gpu_rtx4090_minutes',
    unit: 'minute',
    rawUnit: 'second',
    usdPerUnit: '0.03',
    description: 'RTX 4090: $1.80 per hour, by the minute',
  },
  cpu_minutes: {
    meter: 'cpu_minutes',
    unit: 'minute',
    rawUnit: 'second',
    usdPerUnit: '0.005',
    description: 'CPU only: $0.30 per hour, by the minute',
  },
  storage_mb_hours: {
    meter: 'storage_mb_hours',
    unit: 'MB-hour',
    rawUnit: 'byte-hour',
    // $0.10 per GB-month = 0.10 / (1000 MB × 730 h) per MB-hour.
    usdPerUnit: (0.1 / (1000 * HOURS_PER_MONTH)).toPrecision(12),
    description: 'Storage: $0.10 per GB-month (1 GB = 10^9 bytes, 1 month = 730 hours)',
  },
};

/** The meter a GPU type's running time is billed on. */
export const TIME_METER: Readonly<Record<GpuType, Meter>> = {
  t4: 'gpu_t4_minutes',
  v100: 'gpu_v100_minutes',
  rtx4090: 'gpu_rtx4090_minutes',
  cpu: 'cpu_minutes',
};

/**
 * THE rounding rule. Per (org, meter, UTC hour window): running time is the window's total seconds rounded
 * up to whole minutes; storage is the window's byte-hours in MB-hours rounded half up; calls are exact.
 * Rounding per window, not per call or per workload, bills a busy hour by at most one extra minute.
 */
export function billableQuantity(meter: Meter, rawTotal: number): number {
  const unit = PRICES[meter].rawUnit;
  if (unit === 'second') return Math.ceil(rawTotal / 60 - 1e-9);
  if (unit === 'byte-hour') return Math.round(rawTotal / 1e6);
  return rawTotal;
}

/** The UTC hour a fact at `ms` is billed in. */
export function billingWindow(ms: number): number {
  return Math.floor(ms / 3_600_000) * 3_600_000;
}

/** Monthly base fees by plan, in USD. */
export const PLAN_FEES_USD = { free: '0', pro: '199', enterprise: '0' } as const;
