import type { z } from '@hono/zod-openapi';

type RawIssue = z.core.$ZodRawIssue;
type Bound = { value: number; inclusive: boolean };

/**
 * The words of a refused field where its schema gave none: what the value must be, without the field's name
 * (the envelope's detail carries the path, and the message reads `path: words`). zod's own ("Too big:
 * expected string to have <=100 characters") describe its types, not the API.
 */
export function validationMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return invalidType(issue);
    case 'too_big':
    case 'too_small':
      return outOfBounds(issue);
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${String(issue.values[0])}`
        : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return invalidFormat(issue);
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return issue.keys.length === 1
        ? `does not take the field ${issue.keys[0]}`
        : `does not take the fields ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return invalidUnion(issue);
    case 'invalid_key':
      return 'is not a key this field takes';
    case 'invalid_element':
      return 'has an item that is not valid';
    case 'custom':
      return 'is not valid';
    default:
      return undefined;
  }
}

const NOUNS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  record: 'a JSON object',
  array: 'an array',
  null: 'null',
};

function invalidType(issue: Extract<RawIssue, { code: 'invalid_type' }>): string {
  if (issue.input === undefined) return 'is required';
  if (issue.expected === 'number' || issue.expected === 'int') {
    const bounds = boundsOf(issue.schema);
    return `must be ${describeRange(bounds, issue.expected === 'int' || bounds.int)}`;
  }
  const noun = NOUNS[issue.expected] ?? `of type ${issue.expected}`;
  return issue.input === null ? `must be ${noun}, not null` : `must be ${noun}`;
}

const UNITS: Record<string, [string, string]> = {
  string: ['character', 'characters'],
  array: ['item', 'items'],
  set: ['item', 'items'],
  map: ['entry', 'entries'],
  file: ['byte', 'bytes'],
};
const count = (n: number | bigint, [one, many]: [string, string]) =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function outOfBounds(issue: Extract<RawIssue, { code: 'too_big' | 'too_small' }>): string {
  const units = UNITS[issue.origin];
  if (units) {
    const limit = issue.code === 'too_big' ? issue.maximum : issue.minimum;
    if (issue.exact) return `must be exactly ${count(limit, units)}`;
    if (issue.code === 'too_small' && Number(limit) <= (issue.inclusive ? 1 : 0)) return 'must not be empty';
    const phrase = issue.code === 'too_big' ? 'at most' : 'at least';
    const n = issue.inclusive ? limit : Number(limit) + (issue.code === 'too_big' ? -1 : 1);
    return issue.origin === 'string'
      ? `must be ${phrase} ${count(n, units)}`
      : `must have ${phrase} ${count(n, units)}`;
  }
  if (issue.origin === 'number' || issue.origin === 'int') {
    const bounds = boundsOf(issue.schema);
    // A bound zod itself keeps (a whole number's safe range) when the schema sets none on that side.
    if (issue.code === 'too_big')
      bounds.max ??= { value: Number(issue.maximum), inclusive: !!issue.inclusive };
    else bounds.min ??= { value: Number(issue.minimum), inclusive: !!issue.inclusive };
    return `must be ${describeRange(bounds, issue.origin === 'int' || bounds.int)}`;
  }
  return issue.code === 'too_big' ? `must be at most ${issue.maximum}` : `must be at least ${issue.minimum}`;
}

/** The explicit bounds (`min`, `max`, `positive`…) and integer-ness of a number schema. */
function boundsOf(schema: z.core.$ZodType | undefined): { min?: Bound; max?: Bound; int: boolean } {
  const out: { min?: Bound; max?: Bound; int: boolean } = { int: false };
  for (const check of schema?._zod.def.checks ?? []) {
    const def = check._zod.def;
    if (def.check === 'greater_than') {
      const { value, inclusive } = def as z.core.$ZodCheckGreaterThanDef;
      out.min = { value: Number(value), inclusive };
    } else if (def.check === 'less_than') {
      const { value, inclusive } = def as z.core.$ZodCheckLessThanDef;
      out.max = { value: Number(value), inclusive };
    } else if (def.check === 'number_format') {
      const { format } = def as z.core.$ZodCheckNumberFormatDef;
      out.int ||= format !== 'float32' && format !== 'float64';
    }
  }
  return out;
}

/** `a whole number from 1 to 100`, `a number greater than 0`, `a whole number of 1 or more`. */
function describeRange(bounds: { min?: Bound; max?: Bound }, int: boolean): string {
  const noun = int ? 'a whole number' : 'a number';
  // For whole numbers an exclusive bound reads as the inclusive one next to it (> 0 is 1 or more).
  const min =
    bounds.min &&
    (int && !bounds.min.inclusive ? { value: bounds.min.value + 1, inclusive: true } : bounds.min);
  const max =
    bounds.max &&
    (int && !bounds.max.inclusive ? { value: bounds.max.value - 1, inclusive: true } : bounds.max);
  const n = (b: Bound) => b.value.toLocaleString('en-US');
  if (min?.inclusive && max?.inclusive) return `${noun} from ${n(min)} to ${n(max)}`;
  const parts = [
    min && (min.inclusive ? `${n(min)} or more` : `greater than ${n(min)}`),
    max && (max.inclusive ? `${n(max)} or less` : `less than ${n(max)}`),
  ].filter((part) => part !== undefined);
  return parts.length ? `${noun}, ${parts.join(' and ')}` : noun;
}

const FORMATS: Record<string, string> = {
  email: 'an email address such as ada@example.com',
  url: 'a URL such as https://example.com',
  datetime: 'a date-time such as 2027-01-01T00:00:00Z',
  date: 'a date such as 2027-01-01',
  time: 'a time such as 13:45:00',
  duration: 'an ISO 8601 duration such as PT1H',
  uuid: 'a UUID',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  base64: 'base64-encoded',
  base64url: 'base64url-encoded',
  jwt: 'a JWT',
};

function invalidFormat(issue: Extract<RawIssue, { code: 'invalid_format' }>): string {
  const f = issue as z.core.$ZodIssueInvalidStringFormat & {
    prefix?: string;
    suffix?: string;
    includes?: string;
  };
  if (f.format === 'starts_with') return `must start with ${f.prefix}`;
  if (f.format === 'ends_with') return `must end with ${f.suffix}`;
  if (f.format === 'includes') return `must contain ${f.includes}`;
  if (f.format === 'regex' && f.pattern) return `must match the pattern ${f.pattern}`;
  return `must be ${FORMATS[f.format] ?? `in the format ${f.format}`}`;
}

function invalidUnion(issue: Extract<RawIssue, { code: 'invalid_union' }>): string {
  // A discriminated union whose discriminator matched no option: the issue's path ends at that field.
  if ('options' in issue && Array.isArray(issue.options) && issue.options.length > 0)
    return `must be one of ${issue.options.map(String).join(', ')}`;
  // Each option refused the value outright (its type, or one value): say what each would take.
  const words = [
    ...new Set(
      (issue.errors ?? []).map((branch) =>
        branch.length === 1 && branch[0]?.path.length === 0 ? branch[0].message : '',
      ),
    ),
  ];
  if (words.length === 1 && words[0]) return words[0];
  if (words.length > 1 && words.every((w) => w.startsWith('must be ')))
    return `must be ${joinOr(words.map((w) => w.slice('must be '.length)))}`;
  return 'does not match any form this field takes';
}

const joinOr = (items: string[]) =>
  items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
