import { z } from '@hono/zod-openapi';
import { ROLES } from '../db/schema.js';

export const Email = z.email().max(254).openapi({ example: 'ada@example.com' });
export const Password = z.string().min(10, 'at least 10 characters').max(256);
// libsql cuts a text value at its first NUL, so a name with control characters would be stored other than
// it was answered; refuse them instead.
export const DisplayName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((name) => !/\p{Cc}/u.test(name), 'must not contain control characters');
export const NO_NUL = 'must not contain NUL characters';
/** True for text libsql stores whole: it cuts a TEXT value at its first NUL. */
export const hasNoNul = (text: string) => !text.includes('\u0000');
/**
 * Free text stored as sent (descriptions, tag and param values, comments): newlines and tabs stay, a NUL is
 * refused with a 400 rather than the value being stored cut short at it.
 */
export const FreeText = (max: number) => z.string().max(max).refine(hasNoNul, NO_NUL);
export const RoleSchema = z.enum(ROLES);

/** What keeps `value` from being an id with `prefix`. */
function idProblem(prefix: string, value: string): string {
  if (!value.startsWith(`${prefix}_`)) return `it does not start with ${prefix}_`;
  const tail = value.slice(prefix.length + 1);
  if (tail.length !== 26)
    return `it has ${tail.length} character${tail.length === 1 ? '' : 's'} after ${prefix}_, not 26`;
  return `it has characters other than a-z and 0-9 after ${prefix}_`;
}
/** An id minted by `newId`: `<prefix>_` then 26 lower-case letters and digits; the message says what is off. */
export const IdParam = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`), {
    error: (issue) =>
      `must be an id: ${prefix}_ followed by 26 lower-case letters and digits; ${
        typeof issue.input === 'string' ? idProblem(prefix, issue.input) : 'it is not a string'
      }`,
  });
export const Cursor = z.string().max(64).optional();
/**
 * An integer from a query string or path, written in decimal digits only: `0x10`, `1e3`, ` 16` and `16.0`
 * are refused with a 400 (a coercing `Number()` would read them). Documented as an integer.
 */
const inRange = (min: number, max: number) =>
  `must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`;
export const decimalInt = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) ? Number(value) : value),
    // The range checks inherit the schema's message unless told otherwise: limit=0 and limit=5000 read
    // "must be an integer in decimal digits", which both are.
    z
      .number({ error: 'must be an integer in decimal digits' })
      .int()
      .min(min, { error: inRange(min, max) })
      .max(max, { error: inRange(min, max) }),
  );
export const Limit = decimalInt(1, 200).default(50);
/** One page of a keyset-paged list; `nextCursor` is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const TokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int(),
    orgId: z.string(),
  })
  .openapi('TokenPair');

export const OrgSummarySchema = z
  .object({ id: z.string(), name: z.string(), role: RoleSchema, personal: z.boolean() })
  .openapi('OrgSummary');

export const MemberSchema = z
  .object({
    userId: z.string(),
    email: z.string(),
    name: z.string(),
    role: RoleSchema,
    createdAt: z.string(),
  })
  .openapi('Member');
