import { CliError } from './context.js';

/** `90s`, `5m`, `2h`, `1d` or plain seconds, as whole seconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d{1,7})([smhd]?)$/.exec(value);
  if (!match) throw new CliError(`${flag} wants a duration such as 90s, 5m, 2h or 1d, not ${value}`, 2);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/**
 * A duration flag within the API's bounds, refused here in the flag's own words (the API would name its
 * field, e.g. `windowSeconds: must be a whole number from …`, which the user never typed).
 */
export function parseDurationWithin(value: string, flag: string, min: number, max: number): number {
  const seconds = parseDuration(value, flag);
  if (seconds < min || seconds > max)
    throw new CliError(
      `${flag} must be from ${formatDuration(min)} to ${formatDuration(max)}, not ${value}`,
      2,
    );
  return seconds;
}

/** Seconds the way a person would say them: 300 → 5m, 5400 → 90m, 45 → 45s. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}
