import type { Operation, Schema } from '@meridian/sdk';
import { CliError } from '../context.js';
import { parseDurationWithin as seconds } from '../durations.js';
import { wholeNumber } from '../numbers.js';

type Deployment = Schema<'Deployment'>;
type Patch = NonNullable<
  Operation<'/v1/deployments/{id}', 'patch'>['requestBody']
>['content']['application/json'];

/** The flags of `meridian deploy` that tune a deployment, as commander hands them over. */
export interface SettingFlags {
  min?: string;
  max?: string;
  targetConcurrency?: string;
  scaleToZeroAfter?: string;
  scaleUpDelay?: string;
  scaleDownDelay?: string;
  holdTimeout?: string;
  maxBatchSize?: string;
  maxQueueDelay?: string;
  defaultBatching?: boolean;
  deterministic?: boolean;
  canary?: string;
  canaryWindow?: string;
  canaryMinCalls?: string;
  canaryMaxP95?: string;
}

/** What the settings flags ask of the API: the fields a create and an update share, plus a canary. */
export type Settings = Omit<Patch, 'version' | 'alias' | 'canary'> & { canary?: Schema<'CanaryPolicy'> };

/**
 * Canary steps as a person writes them: `10%,50%` or `0.1,0.5`, each a share of calls, rising. A last
 * `100%` may be written or not: the rollout ends by promoting the new version either way.
 */
export function parseCanarySteps(value: string): number[] {
  const steps = value.split(',').map((part) => {
    const text = part.trim();
    const percent = /^(\d{1,3}(?:\.\d+)?)%$/.exec(text);
    const share = percent
      ? Number(percent[1]) / 100
      : /^(0|1)?\.\d+$|^1$/.test(text)
        ? Number(text)
        : Number.NaN;
    if (!(share > 0 && share <= 1))
      throw new CliError(`--canary wants shares of calls such as 10%,50% (or 0.1,0.5), not ${value}`, 2);
    return share;
  });
  for (let i = 1; i < steps.length; i++)
    if ((steps[i] as number) <= (steps[i - 1] as number))
      throw new CliError(`--canary steps must rise, each above the last: ${value}`, 2);
  if (steps.length > 10) throw new CliError('--canary takes at most 10 steps', 2);
  return steps;
}

/** Dynamic batching: the deployment's own pair, with a flag left out keeping what it has (or the agent's). */
function batching(flags: SettingFlags, current: Deployment | undefined): Pick<Settings, 'batching'> {
  const size = flags.maxBatchSize;
  const delay = flags.maxQueueDelay;
  if (flags.defaultBatching) {
    if (size !== undefined || delay !== undefined)
      throw new CliError(
        '--default-batching drops the batch settings: give it without --max-batch-size or --max-queue-delay',
        2,
      );
    return { batching: null };
  }
  if (size === undefined && delay === undefined) return {};
  const delayMs =
    delay === undefined ? undefined : wholeNumber(delay.replace(/ms$/, ''), '--max-queue-delay', 0, 1000);
  return {
    batching: {
      // The agent's own defaults (32 calls, no added delay) for the half not given and not set before.
      maxBatchSize:
        size === undefined
          ? (current?.batching?.maxBatchSize ?? 32)
          : wholeNumber(size, '--max-batch-size', 1, 1024),
      maxQueueDelayMs: delayMs ?? current?.batching?.maxQueueDelayMs ?? 0,
    },
  };
}

/**
 * The API fields the flags ask for; only the flags given, so an update changes nothing else. `current` is the
 * deployment being updated (undefined on create): batching merges with it, and a canary needs it.
 */
export function settingsFrom(flags: SettingFlags, current: Deployment | undefined): Settings {
  const settings: Settings = { ...batching(flags, current) };
  if (flags.min !== undefined) settings.minReplicas = wholeNumber(flags.min, '--min', 0, 20);
  if (flags.max !== undefined) settings.maxReplicas = wholeNumber(flags.max, '--max', 1, 20);
  if (flags.targetConcurrency !== undefined)
    settings.targetConcurrency = wholeNumber(flags.targetConcurrency, '--target-concurrency', 1, 10_000);
  if (flags.scaleToZeroAfter !== undefined)
    settings.scaleToZeroAfterSeconds =
      flags.scaleToZeroAfter === 'never'
        ? null
        : seconds(flags.scaleToZeroAfter, '--scale-to-zero-after', 1, 86_400);
  if (flags.scaleUpDelay !== undefined)
    settings.scaleUpDelaySeconds = seconds(flags.scaleUpDelay, '--scale-up-delay', 0, 3600);
  if (flags.scaleDownDelay !== undefined)
    settings.scaleDownDelaySeconds = seconds(flags.scaleDownDelay, '--scale-down-delay', 0, 3600);
  if (flags.holdTimeout !== undefined)
    settings.holdTimeoutSeconds = seconds(flags.holdTimeout, '--hold-timeout', 1, 300);
  if (flags.deterministic !== undefined) settings.deterministic = flags.deterministic;
  const canary = canaryFrom(flags, current);
  if (canary) settings.canary = canary;
  return settings;
}

function canaryFrom(
  flags: SettingFlags,
  current: Deployment | undefined,
): Schema<'CanaryPolicy'> | undefined {
  if (flags.canary === undefined) {
    if (
      flags.canaryWindow !== undefined ||
      flags.canaryMinCalls !== undefined ||
      flags.canaryMaxP95 !== undefined
    )
      throw new CliError('--canary-window, --canary-min-calls and --canary-max-p95 go with --canary', 2);
    return undefined;
  }
  if (!current)
    throw new CliError('--canary rolls a new version out on a deployment that exists: create it first', 2);
  const steps = parseCanarySteps(flags.canary);
  return {
    steps,
    ...(flags.canaryWindow === undefined
      ? {}
      : { windowSeconds: seconds(flags.canaryWindow, '--canary-window', 1, 86_400) }),
    ...(flags.canaryMinCalls === undefined
      ? {}
      : { minCalls: wholeNumber(flags.canaryMinCalls, '--canary-min-calls', 1, 1_000_000) }),
    ...(flags.canaryMaxP95 === undefined ? {} : { maxP95LatencyRatio: p95Ratio(flags.canaryMaxP95) }),
  };
}

/**
 * `--canary-max-p95`: how many times the old version's p95 the canary's may reach before it is rolled back
 * (`3`, `1.5`, `x3`), or `off` (latency not judged: a model whose new version is slower by design, or calls
 * too few for a p95 to mean anything). The API takes 1 to 100.
 */
function p95Ratio(value: string): number | null {
  if (value === 'off') return null;
  const match = /^[x×]?(\d{1,3}(?:\.\d{1,2})?)$/.exec(value.trim());
  const ratio = match ? Number(match[1]) : Number.NaN;
  if (!(ratio >= 1 && ratio <= 100))
    throw new CliError(`--canary-max-p95 wants a ratio from 1 to 100 (e.g. 3) or off, not ${value}`, 2);
  return ratio;
}
