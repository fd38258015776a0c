import { EdgeError } from '../errors.js';

const DIGITS = /^[0-9]{1,15}$/;

/**
 * A request's `Inference-Header-Content-Length` checked against its body: a decimal count of at least one
 * and at most the body's length (the JSON part of a binary-extension request). Anything else (negative,
 * not a number, past the end of the body) is the caller's mistake: 400 before anything is forwarded.
 */
export function binaryHeaderLength(value: string | undefined, bodyLength: number): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!DIGITS.test(trimmed))
    throw new EdgeError(
      'bad_request',
      `Inference-Header-Content-Length must be a decimal byte count; got '${value.slice(0, 40)}'`,
    );
  const length = Number(trimmed);
  if (length === 0 || length > bodyLength)
    throw new EdgeError(
      'bad_request',
      `Inference-Header-Content-Length ${length} does not fit a body of ${bodyLength} bytes: the JSON header takes 1 to ${bodyLength} bytes`,
    );
  return String(length);
}
