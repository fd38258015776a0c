import { elementCount, OipDatatype } from './datatypes.js';
import { type DecodedData, decodeJsonData, skipLoose } from './json-data.js';
import { bytesToText } from './text.js';

/** A tensor's JSON `data` array in a body: where it is, and its elements if decoded while scanning. */
export type DataSpan = {
  start: number;
  end: number;
  /** Decoded with the datatype and shape that came before `data` in its object (the usual order). */
  decoded: { datatype: OipDatatype; shape: number[]; data: DecodedData } | undefined;
};

/** The JSON part of a body with every tensor's `data` array cut out, and where those arrays were. */
export type ScannedJson = {
  /** The JSON text with each tensor's `data` array replaced by `[]`: small, for JSON.parse and zod. */
  skeleton: string;
  /** By index in the tensor list; undefined where the tensor has no JSON `data` array. */
  spans: (DataSpan | undefined)[];
};

/** The JSON's layout is not the one scanned for (or it is not JSON): the caller parses it whole. */
class Unexpected extends Error {}
const UNEXPECTED = new Unexpected();

const DATATYPES = new Set<string>(OipDatatype.options);
const isSpace = (c: number | undefined) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * Scans the JSON part of an infer request (`listKey` 'inputs') or response ('outputs'): finds each
 * tensor's `data` array and decodes it straight from the bytes when `datatype` and `shape` precede it (else
 * it only finds its end; binary.ts decodes it once the tensor's fields are known). Duplicate keys resolve
 * as JSON.parse resolves them (the last one wins). Undefined for anything else than an object, for keys
 * with escapes and for malformed JSON: the caller's plain JSON.parse then says what is wrong.
 */
export function scanTensorJson(
  b: Uint8Array,
  end: number,
  listKey: 'inputs' | 'outputs',
): ScannedJson | undefined {
  // Binary tensors only (the fast clients' case): nothing to cut out, JSON.parse takes the header whole.
  if (!holdsDataKey(b, end)) return undefined;
  try {
    return new Scanner(b, end, listKey).scan();
  } catch {
    return undefined;
  }
}

class Scanner {
  private i = 0;
  private copied = 0;
  private readonly pieces: string[] = [];
  private spans: (DataSpan | undefined)[] = [];

  constructor(
    private readonly b: Uint8Array,
    private readonly end: number,
    private readonly listKey: string,
  ) {}

  scan(): ScannedJson {
    this.object((key) => {
      if (key === this.listKey && this.at() === 91) {
        this.spans = [];
        this.list();
      } else this.skipValue();
    });
    this.space();
    if (this.i !== this.end) throw UNEXPECTED;
    this.pieces.push(bytesToText(this.b.subarray(this.copied, this.end)));
    return { skeleton: this.pieces.join(''), spans: this.spans };
  }

  private at(): number | undefined {
    return this.i < this.end ? this.b[this.i] : undefined;
  }

  private space(): void {
    while (this.i < this.end && isSpace(this.b[this.i])) this.i++;
  }

  private expect(c: number): void {
    this.space();
    if (this.at() !== c) throw UNEXPECTED;
    this.i++;
  }

  /** An object at i: calls `member` with each key, positioned on its value. */
  private object(member: (key: string) => void): void {
    this.expect(123);
    this.space();
    if (this.at() === 125) {
      this.i++;
      return;
    }
    for (;;) {
      const key = this.key();
      this.expect(58);
      this.space();
      member(key);
      this.space();
      const c = this.at();
      this.i++;
      if (c === 125) return;
      if (c !== 44) throw UNEXPECTED;
      this.space();
    }
  }

  /** A key without escapes (keys with escapes are left to JSON.parse). */
  private key(): string {
    this.space();
    if (this.at() !== 34) throw UNEXPECTED;
    const start = ++this.i;
    for (; this.i < this.end; this.i++) {
      const c = this.b[this.i] as number;
      if (c === 34) return bytesToText(this.b.subarray(start, this.i++));
      if (c === 92 || c < 0x20) throw UNEXPECTED;
    }
    throw UNEXPECTED;
  }

  private list(): void {
    this.i++;
    this.space();
    if (this.at() === 93) {
      this.i++;
      return;
    }
    for (let index = 0; ; index++) {
      if (this.at() === 123) this.tensor(index);
      else this.skipValue();
      this.space();
      const c = this.at();
      this.i++;
      if (c === 93) return;
      if (c !== 44) throw UNEXPECTED;
      this.space();
    }
  }

  private tensor(index: number): void {
    let datatype: OipDatatype | undefined;
    let shape: number[] | undefined;
    this.object((key) => {
      const start = this.i;
      if (key === 'data' && this.at() === 91) {
        const known = datatype !== undefined && shape !== undefined;
        const count = shape === undefined ? 0 : elementCount(shape);
        const data = decodeJsonData(this.b, start, this.end, known ? datatype : undefined, count);
        this.pieces.push(bytesToText(this.b.subarray(this.copied, start)), '[]');
        this.copied = this.i = data.end;
        const decoded = datatype !== undefined && shape !== undefined ? { datatype, shape, data } : undefined;
        this.spans[index] = { start, end: data.end, decoded };
        return;
      }
      this.skipValue();
      if (key === 'data') this.spans[index] = undefined;
      if (key === 'datatype') datatype = parseDatatype(this.text(start));
      if (key === 'shape') shape = parseShape(this.text(start));
    });
  }

  private text(start: number): string {
    return bytesToText(this.b.subarray(start, this.i));
  }

  /** Past any value; exact for valid JSON (JSON.parse of the skeleton checks the rest). */
  private skipValue(): void {
    const c = this.at();
    if (c === 123 || c === 91 || c === 34) {
      this.i = c === 34 ? skipString(this.b, this.i, this.end) : skipLoose(this.b, this.i, this.end);
      return;
    }
    const start = this.i;
    while (this.i < this.end) {
      const d = this.b[this.i];
      if (d === 44 || d === 125 || d === 93 || isSpace(d)) break;
      this.i++;
    }
    if (this.i === start) throw UNEXPECTED;
  }
}

const DATA_KEY = [34, 100, 97, 116, 97, 34]; // "data"

/** Whether `"data"` occurs in the JSON part, bytes[0, end) (the binary part after it is not searched). */
function holdsDataKey(bytes: Uint8Array, end: number): boolean {
  const json = bytes.subarray(0, end);
  for (let i = json.indexOf(34); i >= 0 && i + 6 <= end; i = json.indexOf(34, i + 1)) {
    let k = 1;
    while (k < 6 && json[i + k] === DATA_KEY[k]) k++;
    if (k === 6) return true;
  }
  return false;
}

function skipString(b: Uint8Array, i: number, end: number): number {
  for (let k = i + 1; k < end; k++) {
    const c = b[k];
    if (c === 34) return k + 1;
    if (c === 92) k++;
  }
  throw UNEXPECTED;
}

function parseDatatype(text: string): OipDatatype | undefined {
  const value: unknown = JSON.parse(text);
  return typeof value === 'string' && DATATYPES.has(value) ? (value as OipDatatype) : undefined;
}

function parseShape(text: string): number[] | undefined {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || value.length > 16) return undefined;
  return value.every((d) => Number.isSafeInteger(d) && d >= 0) ? (value as number[]) : undefined;
}
