import type { Readable } from 'node:stream';

/** One line of a stored file: its number (from 1), its bytes' place in the file, and its text. */
export type FileLine = { number: number; start: number; end: number; text: string; tooLong: boolean };

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines without holding more than one line (and one chunk): a line longer than
 * `maxLineBytes` is reported `tooLong` with its text cut, its bytes skipped. `end` is exclusive and includes
 * the newline, so consecutive lines tile the file.
 */
export async function* readLines(
  body: Readable,
  options: { maxLineBytes: number; firstLine?: number; firstByte?: number },
): AsyncGenerator<FileLine> {
  let number = options.firstLine ?? 1;
  let start = options.firstByte ?? 0;
  let parts: Buffer[] = [];
  let length = 0;
  let overflow = false;
  const finish = (endByte: number): FileLine => {
    const text = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
    const line = { number, start, end: endByte, text, tooLong: overflow };
    number += 1;
    start = endByte;
    parts = [];
    length = 0;
    overflow = false;
    return line;
  };
  let offset = start;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let from = 0;
    while (from < chunk.length) {
      const at = chunk.indexOf(NEWLINE, from);
      const to = at === -1 ? chunk.length : at;
      if (!overflow) {
        if (length + (to - from) > options.maxLineBytes) {
          overflow = true;
          parts.push(chunk.subarray(from, from + Math.max(0, Math.min(256, options.maxLineBytes - length))));
        } else {
          parts.push(chunk.subarray(from, to));
          length += to - from;
        }
      }
      if (at === -1) break;
      yield finish(offset + at + 1);
      from = at + 1;
    }
    offset += chunk.length;
  }
  if (length > 0 || overflow) yield finish(offset);
}
