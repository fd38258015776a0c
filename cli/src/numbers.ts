import { CliError } from './context.js';

/** A whole number within the API's bounds, refused here (exit 2, naming the flag and its range) before any request. */
export function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new CliError(`${flag} wants a whole number from ${min} to ${max}, not ${value}`, 2);
  return n;
}
