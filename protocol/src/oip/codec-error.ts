/** A request or response that breaks the protocol itself; servers answer it with 400. */
export class OipCodecError extends Error {
  override name = 'OipCodecError';
}

/** The error for an element that is not a value of its tensor's datatype (`shown` as it was sent). */
export function badElement(name: string, index: number, datatype: string, shown: string): OipCodecError {
  return new OipCodecError(`input '${name}': element ${index} is ${shown}, not a valid ${datatype}`);
}

/** The error for data whose element count is not what the shape holds. */
export function countMismatch(name: string, shape: readonly number[], count: number, found: number) {
  return new OipCodecError(
    `input '${name}': shape [${shape.join(',')}] needs ${count} elements but data holds ${found}`,
  );
}
