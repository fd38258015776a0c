import { dictionary } from '@zxcvbn-ts/language-common';

/** Below this many distinct characters a password is a pattern (`aaaaaaaaaa`, `abababab…`), not a secret. */
const MIN_DISTINCT_CHARACTERS = 5;
/** A local part this long is specific enough that a password containing it is refused. */
const MIN_LOCAL_PART = 4;

let breached: Set<string> | undefined;

/**
 * The ~49,000 most common passwords of public breach corpora, as the zxcvbn-ts project ships them in
 * @zxcvbn-ts/language-common: read from the installed package, never from the network.
 */
function breachedPasswords(): Set<string> {
  breached ??= new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  return breached;
}

/**
 * Why `password` may not be used by the account `email`, or undefined when it may. Length bounds are the
 * request schema's; this adds what a schema cannot know.
 */
export function passwordProblem(password: string, email: string): string | undefined {
  const lower = password.normalize('NFKC').toLowerCase();
  const address = email.toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (lower.includes(address) || (local.length >= MIN_LOCAL_PART && lower.includes(local))) {
    return 'must not contain your e-mail address';
  }
  if (new Set(lower).size < MIN_DISTINCT_CHARACTERS) {
    return `must use at least ${MIN_DISTINCT_CHARACTERS} different characters`;
  }
  if (breachedPasswords().has(lower))
    return 'is in a list of passwords exposed in data breaches; choose another';
  return undefined;
}
