import type { Schema } from '@meridian/sdk';

type Deployment = Schema<'Deployment'>;

/** The settings form as typed: numbers as strings, so a field can be empty while it is edited. */
export interface SettingsDraft {
  minReplicas: string;
  maxReplicas: string;
  targetConcurrency: string;
  /** Empty: never to zero. */
  scaleToZeroAfterSeconds: string;
  scaleUpDelaySeconds: string;
  scaleDownDelaySeconds: string;
  holdTimeoutSeconds: string;
  /** Off: the agent's own batching (up to 32 calls, no added delay). */
  ownBatching: boolean;
  maxBatchSize: string;
  maxQueueDelayMs: string;
  deterministic: boolean;
}

export type SettingsPatch = Partial<
  Pick<
    Deployment,
    | 'minReplicas'
    | 'maxReplicas'
    | 'targetConcurrency'
    | 'scaleToZeroAfterSeconds'
    | 'scaleUpDelaySeconds'
    | 'scaleDownDelaySeconds'
    | 'holdTimeoutSeconds'
    | 'batching'
    | 'deterministic'
  >
>;

export function draftOf(d: Deployment): SettingsDraft {
  return {
    minReplicas: String(d.minReplicas),
    maxReplicas: String(d.maxReplicas),
    targetConcurrency: String(d.targetConcurrency),
    scaleToZeroAfterSeconds: d.scaleToZeroAfterSeconds === null ? '' : String(d.scaleToZeroAfterSeconds),
    scaleUpDelaySeconds: String(d.scaleUpDelaySeconds),
    scaleDownDelaySeconds: String(d.scaleDownDelaySeconds),
    holdTimeoutSeconds: String(d.holdTimeoutSeconds),
    ownBatching: d.batching !== null,
    maxBatchSize: String(d.batching?.maxBatchSize ?? 32),
    maxQueueDelayMs: String(d.batching?.maxQueueDelayMs ?? 0),
    deterministic: d.deterministic,
  };
}

const WHOLE = /^\d{1,9}$/;

/** A whole number from a field, or the message that names the field. */
function whole(text: string, label: string): number {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) throw new Error(`${label}: a whole number, not “${text}”`);
  return Number(trimmed);
}

/**
 * What saving the draft changes: only the fields that differ from the deployment, so a save never resets what
 * someone else changed meanwhile. Throws an Error naming the field for text that is not a whole number;
 * bounds are the API's to check (its 400 names the field).
 */
export function settingsPatch(d: Deployment, draft: SettingsDraft): SettingsPatch {
  const wanted: SettingsPatch = {
    minReplicas: whole(draft.minReplicas, 'Minimum replicas'),
    maxReplicas: whole(draft.maxReplicas, 'Maximum replicas'),
    targetConcurrency: whole(draft.targetConcurrency, 'Calls in flight per replica'),
    scaleToZeroAfterSeconds:
      draft.scaleToZeroAfterSeconds.trim() === ''
        ? null
        : whole(draft.scaleToZeroAfterSeconds, 'Scale to zero after'),
    scaleUpDelaySeconds: whole(draft.scaleUpDelaySeconds, 'Scale-up delay'),
    scaleDownDelaySeconds: whole(draft.scaleDownDelaySeconds, 'Scale-down delay'),
    holdTimeoutSeconds: whole(draft.holdTimeoutSeconds, 'Hold calls for'),
    batching: draft.ownBatching
      ? {
          maxBatchSize: whole(draft.maxBatchSize, 'Largest batch'),
          maxQueueDelayMs: whole(draft.maxQueueDelayMs, 'Batch wait'),
        }
      : null,
    deterministic: draft.deterministic,
  };
  const patch: SettingsPatch = {};
  for (const [field, value] of Object.entries(wanted) as [keyof SettingsPatch, unknown][]) {
    if (JSON.stringify(value) !== JSON.stringify(d[field])) Object.assign(patch, { [field]: value });
  }
  // Scale-to-zero time only applies with a minimum of 0; the API refuses it otherwise.
  const min = patch.minReplicas ?? d.minReplicas;
  if (min > 0 && 'scaleToZeroAfterSeconds' in patch && patch.scaleToZeroAfterSeconds !== null)
    delete patch.scaleToZeroAfterSeconds;
  return patch;
}

/**
 * Canary steps as typed: `10, 50` (percent of calls), rising, each above 0 and at most 100. Returns the shares
 * (0.1, 0.5) or throws an Error saying what is wrong.
 */
export function canarySteps(text: string): number[] {
  const parts = text
    .split(/[,\s]+/)
    .map((p) => p.replace(/%$/, ''))
    .filter((p) => p !== '');
  if (parts.length === 0) throw new Error('Steps: at least one share of calls, e.g. 10, 50');
  const steps = parts.map((p) => {
    const percent = /^\d{1,3}(\.\d+)?$/.test(p) ? Number(p) : Number.NaN;
    if (!(percent > 0 && percent <= 100))
      throw new Error(`Steps: “${p}” is not a percentage above 0, at most 100`);
    return percent / 100;
  });
  for (let i = 1; i < steps.length; i++)
    if ((steps[i] as number) <= (steps[i - 1] as number))
      throw new Error('Steps: each must take a larger share of calls than the one before');
  return steps;
}
