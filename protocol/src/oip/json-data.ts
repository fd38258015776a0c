import { badElement, countMismatch, OipCodecError } from './codec-error.js';
import { BIGINT_RANGE, INTEGER_RANGE, type OipDatatype, type TensorData, toHalfBits } from './datatypes.js';
import { bytesToText, textToBytes } from './text.js';

/**
 * OIP JSON `data` decoded straight from the body's bytes into a typed array: one pass, no JS array, no string
 * for the body, no boxed number per element. A 543 KB PaddleOCR input decodes in less time than `JSON.parse`
 * of the same text takes (bench/agent-serving.ts prints both). Numbers are read digit by digit, a fraction
 * four digits per 32-bit read; a value that this cannot produce exactly as `JSON.parse` would (more than 15
 * significant digits for FP64 and the integers, a far exponent) is parsed again from its text, so every
 * element is the one `JSON.parse` then a typed array store would give. For FP32 and FP16, a 16–19 digit value
 * (what Python and NumPy print) is kept when its approximation, off by a few units in the last place of a
 * double, is far from the midpoint between two floats: both then round to the same float.
 */

/** A decoded `data` array: the elements (undefined when too many to be the shape's), how many, the first bad one. */
export type DecodedData = {
  /** Index just past the closing `]`. */
  end: number;
  data: TensorData | undefined;
  found: number;
  bad: { index: number; shown: string } | undefined;
};

const KIND_FLOAT = 0;
const KIND_HALF = 1;
const KIND_DOUBLE = 2;
const KIND_INT = 3;
const KIND_BIGINT = 4;
const KIND_BOOL = 5;
const KIND_BYTES = 6;
/** Any scalar: validates and finds the end of data whose datatype is not known yet. */
const KIND_ANY = 7;

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
const FLOAT32_SAFE_MAX = 3.4e38;

// Results of scanNumber beside its return value (module state: no object per element).
let numEnd = 0;
let numExact = true;
let numPlainInt = true;
let numDigits = 0;

/** The text of bytes[start, end) (ASCII tokens: numbers, literals). */
function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, Array.from(bytes.subarray(start, end)));
}

/**
 * Reads a JSON number at `i`. Sets numEnd (-1 when there is no valid number there), numExact (the value is
 * the double `JSON.parse` gives), numPlainInt (digits and an optional minus only) and numDigits.
 */
function scanNumber(b: Uint8Array, view: DataView, i: number): number {
  const start = i;
  // Reads past the end give undefined, which no comparison below accepts: `as number` only quiets the types.
  let c = b[i] as number;
  const negative = c === 45;
  if (negative) c = b[++i] as number;
  let m = 0;
  let digits = 0;
  let exp = 0;
  if (c === 48) c = b[++i] as number;
  else if (c >= 49 && c <= 57) {
    do {
      if (digits < 19) m = m * 10 + (c - 48);
      else exp++;
      digits++;
      c = b[++i] as number;
    } while (c >= 48 && c <= 57);
  } else {
    numEnd = -1;
    return 0;
  }
  let plain = true;
  if (c === 46) {
    plain = false;
    c = b[++i] as number;
    if (!(c >= 48 && c <= 57)) {
      numEnd = -1;
      return 0;
    }
    // Zeros right after the point are not significant digits while nothing came before them.
    if (m === 0)
      while (c === 48) {
        exp--;
        c = b[++i] as number;
      }
    // Four digits per step while all four still count (the first 19): a float's fraction is most of a
    // model input's bytes, and one 32-bit read replaces four loads, compares and multiply-adds.
    while (digits <= 15 && i + 4 <= b.length) {
      const w = view.getInt32(i, true);
      // Each byte in '0'..'9': its high nibble is 3, and still 3 after adding 6 ('9' + 6 = 0x3f).
      if ((w & 0xf0f0f0f0) !== 0x30303030 || ((w + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) break;
      // The four digits' value, first digit in the low byte: pairs, then the pair of pairs.
      let v = w & 0x0f0f0f0f;
      v = (Math.imul(v, 10) + (v >>> 8)) & 0x00ff00ff;
      v = (Math.imul(v, 100) + (v >>> 16)) & 0xffff;
      m = m * 10000 + v;
      digits += 4;
      exp -= 4;
      i += 4;
    }
    c = b[i] as number;
    while (c >= 48 && c <= 57) {
      if (digits < 19) {
        m = m * 10 + (c - 48);
        exp--;
      }
      digits++;
      c = b[++i] as number;
    }
  }
  if (c === 101 || c === 69) {
    plain = false;
    c = b[++i] as number;
    const negativeExp = c === 45;
    if (c === 45 || c === 43) c = b[++i] as number;
    if (!(c >= 48 && c <= 57)) {
      numEnd = -1;
      return 0;
    }
    let e = 0;
    do {
      if (e < 100_000) e = e * 10 + (c - 48);
      c = b[++i] as number;
    } while (c >= 48 && c <= 57);
    exp += negativeExp ? -e : e;
  }
  numEnd = i;
  numPlainInt = plain;
  numDigits = digits;
  if (m === 0) {
    numExact = true;
    return negative ? -0 : 0;
  }
  if (digits <= 19 && exp >= -22 && exp <= 22) {
    // Exact below 2^53 (15 digits) and 10^22 (Clinger's fast path); a few ulps off above.
    numExact = digits <= 15;
    const v = exp >= 0 ? m * (POW10[exp] as number) : m / (POW10[-exp] as number);
    return negative ? -v : v;
  }
  numExact = true;
  return Number(ascii(b, start, i));
}

/** Whether a double `v`, a few ulps from the exact value, rounds to the same float32 as the exact value. */
function safeForFloat32(v: number): boolean {
  const a = v < 0 ? -v : v;
  if (a < FLOAT32_MIN_NORMAL || a > FLOAT32_SAFE_MAX) return false;
  f64[0] = v;
  // The 29 mantissa bits a float32 drops: 0x10000000 is the midpoint between two floats.
  const dropped = (u32[LOW_WORD] as number) & 0x1fffffff;
  return dropped < 0x10000000 - 64 || dropped > 0x10000000 + 64;
}

function isDelimiter(c: number | undefined): boolean {
  return c === 44 || c === 93 || c === 125 || c === 32 || c === 10 || c === 13 || c === 9 || c === undefined;
}

/** Index just past the JSON string starting at `i` (its opening quote), or -1 when it is not valid. */
function scanString(b: Uint8Array, i: number, end: number): number {
  for (let k = i + 1; k < end; k++) {
    const c = b[k] as number;
    if (c === 34) return k + 1;
    if (c < 0x20) return -1;
    if (c === 92) {
      const e = b[++k];
      if (e === 117) {
        for (let h = 1; h <= 4; h++) {
          const x = b[k + h];
          const hex =
            x !== undefined && ((x >= 48 && x <= 57) || (x >= 65 && x <= 70) || (x >= 97 && x <= 102));
          if (!hex) return -1;
        }
        k += 4;
      } else if (
        e !== 34 &&
        e !== 92 &&
        e !== 47 &&
        e !== 98 &&
        e !== 102 &&
        e !== 110 &&
        e !== 114 &&
        e !== 116
      )
        return -1;
    }
  }
  return -1;
}

/** The UTF-8 bytes of the JSON string bytes[start, end) (quotes included). */
function stringBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  for (let k = start + 1; k < end - 1; k++) {
    const c = b[k] as number;
    if (c === 92 || c >= 0x80) {
      // Escapes or non-ASCII: through the runtime's decoder, as JSON.parse of the text would read it.
      return textToBytes(JSON.parse(bytesToText(b.subarray(start, end))) as string);
    }
  }
  return b.slice(start + 1, end - 1);
}

/** A short rendering of the token at `i` for an error message, and the index past it. */
function describeToken(b: Uint8Array, i: number, end: number): { shown: string; next: number } {
  const c = b[i];
  if (c === 34) {
    const next = scanString(b, i, end);
    if (next < 0) throw invalidJson(i);
    return { shown: clip(bytesToText(b.subarray(i, next))), next };
  }
  if (c === 123 || c === 91) {
    const next = skipLoose(b, i, end);
    return { shown: c === 123 ? 'an object' : 'an array', next };
  }
  let k = i;
  while (k < end && !isDelimiter(b[k])) k++;
  const shown = ascii(b, i, k);
  // Anything but a number or a literal (NaN, Infinity, .5, +1) is not JSON.
  let isNumber = false;
  if (c === 45 || (c !== undefined && c >= 48 && c <= 57)) {
    scanNumber(b, new DataView(b.buffer, b.byteOffset, b.byteLength), i);
    isNumber = numEnd === k;
  }
  if (!isNumber && shown !== 'true' && shown !== 'false' && shown !== 'null') throw invalidJson(i);
  return { shown: clip(shown), next: k };
}

const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Past a bracketed value, strings respected; exact for valid JSON, the caller validates the rest. */
export function skipLoose(b: Uint8Array, i: number, end: number): number {
  let depth = 0;
  for (let k = i; k < end; k++) {
    const c = b[k];
    if (c === 34) {
      const next = scanString(b, k, end);
      if (next < 0) throw invalidJson(k);
      k = next - 1;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  throw invalidJson(end);
}

/** The error for bytes that are not JSON. */
export function invalidJson(at: number): OipCodecError {
  return new OipCodecError(`the JSON part of the body is not valid JSON (at byte ${at})`);
}

function kindOf(datatype: OipDatatype | undefined): number {
  switch (datatype) {
    case undefined:
      return KIND_ANY;
    case 'FP32':
      return KIND_FLOAT;
    case 'FP16':
      return KIND_HALF;
    case 'FP64':
      return KIND_DOUBLE;
    case 'INT64':
    case 'UINT64':
      return KIND_BIGINT;
    case 'BOOL':
      return KIND_BOOL;
    case 'BYTES':
      return KIND_BYTES;
    default:
      return KIND_INT;
  }
}

function allocate(datatype: OipDatatype | undefined, count: number): TensorData | undefined {
  switch (datatype) {
    case undefined:
      return undefined;
    case 'FP32':
      return new Float32Array(count);
    case 'FP64':
      return new Float64Array(count);
    case 'FP16':
    case 'UINT16':
      return new Uint16Array(count);
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(count);
    case 'INT8':
      return new Int8Array(count);
    case 'INT16':
      return new Int16Array(count);
    case 'UINT32':
      return new Uint32Array(count);
    case 'INT32':
      return new Int32Array(count);
    case 'INT64':
      return new BigInt64Array(count);
    case 'UINT64':
      return new BigUint64Array(count);
    case 'BYTES':
      return new Array<Uint8Array>(count);
  }
}

/**
 * Decodes the JSON array at bytes[start] (its `[`), flat or nested to any depth, as `count` elements of
 * `datatype` (undefined: only validates and finds the end). Throws OipCodecError for bytes that are not
 * JSON; a wrong element or count is returned for the caller to report (a count error comes first).
 */
export function decodeJsonData(
  b: Uint8Array,
  start: number,
  end: number,
  datatype: OipDatatype | undefined,
  count: number,
): DecodedData {
  const kind = kindOf(datatype);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // Every element takes at least two bytes ("1,"): a shape that asks for more is wrong, not allocated.
  const out = count <= (end - start) / 2 + 1 ? allocate(datatype, count) : undefined;
  const range = datatype === undefined ? undefined : INTEGER_RANGE[datatype];
  const low = range?.[0] ?? 0;
  const high = range?.[1] ?? 0;
  const big = datatype === 'INT64' || datatype === 'UINT64' ? BIGINT_RANGE[datatype] : undefined;
  let bad: DecodedData['bad'];
  let n = 0;
  let depth = 1;
  let i = start + 1;
  let expectValue = true;
  let opened = true;
  for (;;) {
    let c = b[i];
    while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++i];
    if (i >= end) throw invalidJson(i);
    if (!expectValue) {
      if (c === 44) {
        expectValue = true;
        opened = false;
        i++;
        continue;
      }
      if (c !== 93) throw invalidJson(i);
      i++;
      if (--depth === 0) break;
      continue;
    }
    if (c === 91) {
      depth++;
      i++;
      opened = true;
      continue;
    }
    if (c === 93) {
      if (!opened) throw invalidJson(i);
      i++;
      expectValue = false;
      if (--depth === 0) break;
      continue;
    }
    expectValue = false;
    opened = false;
    const index = n++;
    if ((c === 45 || (c !== undefined && c >= 48 && c <= 57)) && kind !== KIND_BOOL && kind !== KIND_BYTES) {
      const tokenStart = i;
      let v = scanNumber(b, view, i);
      i = numEnd;
      if (i < 0 || i > end || !isDelimiter(b[i])) throw invalidJson(tokenStart);
      if (kind === KIND_FLOAT) {
        if (!numExact && !safeForFloat32(v)) v = Number(ascii(b, tokenStart, i));
        if (out !== undefined && index < count) (out as Float32Array)[index] = v;
        continue;
      }
      if (kind === KIND_ANY) continue;
      if (kind === KIND_HALF) {
        if (!numExact && !safeForFloat32(v)) v = Number(ascii(b, tokenStart, i));
        if (out !== undefined && index < count) (out as Uint16Array)[index] = toHalfBits(v);
        continue;
      }
      if (!numExact) v = Number(ascii(b, tokenStart, i));
      if (kind === KIND_DOUBLE) {
        if (out !== undefined && index < count) (out as Float64Array)[index] = v;
        continue;
      }
      if (kind === KIND_INT) {
        if (Number.isInteger(v) && v >= low && v <= high) {
          if (out !== undefined && index < count) (out as Int32Array)[index] = v;
        } else bad ??= { index, shown: clip(ascii(b, tokenStart, i)) };
        continue;
      }
      // 64-bit: digits alone are read exactly, beyond 2^53 too; other forms must be safe integers.
      const value =
        numPlainInt && numDigits > 15
          ? BigInt(ascii(b, tokenStart, i))
          : Number.isSafeInteger(v)
            ? BigInt(v)
            : undefined;
      if (value !== undefined && big !== undefined && value >= big[0] && value <= big[1]) {
        if (out !== undefined && index < count) (out as BigInt64Array)[index] = value;
      } else bad ??= { index, shown: clip(ascii(b, tokenStart, i)) };
      continue;
    }
    if (kind === KIND_BOOL && (c === 116 || c === 102)) {
      const isTrue = c === 116;
      const next = i + (isTrue ? 4 : 5);
      if (next <= end && ascii(b, i, next) === (isTrue ? 'true' : 'false') && isDelimiter(b[next])) {
        if (out !== undefined && index < count) (out as Uint8Array)[index] = isTrue ? 1 : 0;
        i = next;
        continue;
      }
    }
    if ((kind === KIND_BYTES || kind === KIND_ANY) && c === 34) {
      const next = scanString(b, i, end);
      if (next < 0) throw invalidJson(i);
      if (out !== undefined && index < count) (out as Uint8Array[])[index] = stringBytes(b, i, next);
      i = next;
      continue;
    }
    if (kind === KIND_ANY && (c === 116 || c === 102 || c === 110)) {
      const word = c === 116 ? 'true' : c === 102 ? 'false' : 'null';
      const next = i + word.length;
      if (next > end || ascii(b, i, next) !== word || !isDelimiter(b[next])) throw invalidJson(i);
      i = next;
      continue;
    }
    const token = describeToken(b, i, end);
    bad ??= { index, shown: token.shown };
    i = token.next;
  }
  return { end: i, data: out, found: n, bad };
}

/** The tensor elements of a decoded `data` array, or the OipCodecError it deserves. */
export function checkedData(
  decoded: DecodedData,
  name: string,
  datatype: OipDatatype,
  shape: readonly number[],
  count: number,
): TensorData {
  if (decoded.found !== count || decoded.data === undefined)
    throw countMismatch(name, shape, count, decoded.found);
  if (decoded.bad) throw badElement(name, decoded.bad.index, datatype, decoded.bad.shown);
  return decoded.data;
}
