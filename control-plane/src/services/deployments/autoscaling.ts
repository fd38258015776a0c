import { invalidField } from '../../errors.js';

// A deployment's autoscaling settings: what the API accepts, the defaults it fills in and the rules across
// fields that a per-field schema cannot state. Pure.

/** The settings as stored on the deployment row. */
export interface AutoscalingSettings {
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency: number;
  scaleUpDelaySeconds: number;
  scaleDownDelaySeconds: number;
  /** Null: never to zero (always with minReplicas ≥ 1). */
  scaleToZeroAfterSeconds: number | null;
  /** How long the edge holds a call while no replica is ready (scaled to zero, or starting), then 503. */
  holdTimeoutSeconds: number;
}

/** What a create or PATCH body may say; absent fields keep their value (or take the default). */
export type AutoscalingInput = Partial<AutoscalingSettings>;

export const DEFAULT_AUTOSCALING: AutoscalingSettings = {
  minReplicas: 1,
  maxReplicas: 1,
  targetConcurrency: 16,
  scaleUpDelaySeconds: 0,
  scaleDownDelaySeconds: 30,
  scaleToZeroAfterSeconds: null,
  holdTimeoutSeconds: 30,
};

/** Idle time before a deployment with minReplicas 0 goes to zero when the caller did not say. */
export const DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS = 300;

export const AUTOSCALING_FIELDS = [
  'minReplicas',
  'maxReplicas',
  'targetConcurrency',
  'scaleUpDelaySeconds',
  'scaleDownDelaySeconds',
  'scaleToZeroAfterSeconds',
  'holdTimeoutSeconds',
] as const;

/**
 * The settings `input` leads to from `current` (a new deployment: the defaults, with maxReplicas following
 * minReplicas). Throws a 400 naming the field for a combination no single field's bounds catch.
 */
export function resolveAutoscaling(
  input: AutoscalingInput,
  current?: AutoscalingSettings,
): AutoscalingSettings {
  const base = current ?? {
    ...DEFAULT_AUTOSCALING,
    maxReplicas: Math.max(1, input.minReplicas ?? DEFAULT_AUTOSCALING.minReplicas),
  };
  const next = { ...DEFAULT_AUTOSCALING };
  for (const field of AUTOSCALING_FIELDS) {
    Object.assign(next, { [field]: input[field] !== undefined ? input[field] : base[field] });
  }
  if (next.minReplicas > next.maxReplicas) {
    const field =
      input.maxReplicas !== undefined || input.minReplicas === undefined ? 'maxReplicas' : 'minReplicas';
    throw invalidField(
      field,
      `minReplicas (${next.minReplicas}) must not exceed maxReplicas (${next.maxReplicas})`,
    );
  }
  if (next.minReplicas >= 1 && input.scaleToZeroAfterSeconds != null) {
    throw invalidField(
      'scaleToZeroAfterSeconds',
      `conflicts with minReplicas ${next.minReplicas}: a deployment scales to zero only with minReplicas 0`,
    );
  }
  if (next.minReplicas >= 1) next.scaleToZeroAfterSeconds = null;
  else if (next.scaleToZeroAfterSeconds === null && input.scaleToZeroAfterSeconds === undefined)
    next.scaleToZeroAfterSeconds = DEFAULT_SCALE_TO_ZERO_AFTER_SECONDS;
  return next;
}

/** The replicas a new deployment starts with: at least one, so it answers its first call warm (Knative's initial scale). */
export const initialReplicas = (s: AutoscalingSettings) => Math.max(1, s.minReplicas);

/** `target 16 in flight per replica, to zero after 300 s without calls`, for events. */
export function describeScaling(s: AutoscalingSettings): string {
  const zero =
    s.scaleToZeroAfterSeconds === null
      ? 'never to zero'
      : `to zero after ${s.scaleToZeroAfterSeconds} s without calls`;
  return `target ${s.targetConcurrency} in flight per replica, ${zero}`;
}
