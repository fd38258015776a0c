import { CliError } from './context.js';

/** The largest version number the API stores (a 32-bit signed integer); versions start at 1. */
export const MAX_VERSION = 2_147_483_647;

/**
 * A whole number within the API's bounds, refused here (exit 2, naming the flag and its range) before any
 * request. The range reads as the control plane writes it (`from 1 to 2,147,483,647`).
 */
export function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new CliError(
      `${flag} wants a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, not ${value}`,
      2,
    );
  return n;
}

/** A model version number (1 and up), as every command that pins one takes it. */
export function versionNumber(value: string, flag: string): number {
  return wholeNumber(value, flag, 1, MAX_VERSION);
}
