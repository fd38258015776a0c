import { decodeUtf8, encodeUtf8 } from './utf8.js';

// Every runtime the protocol runs on has TextEncoder/TextDecoder, but the package compiles without any
// runtime's typings; it looks them up once and falls back to its own (slower) UTF-8 code.
type Codecs = {
  TextDecoder?: new () => { decode(bytes: Uint8Array): string };
  TextEncoder?: new () => {
    encode(text: string): Uint8Array<ArrayBuffer>;
    encodeInto(text: string, into: Uint8Array): { read: number; written: number };
  };
};
const codecs = globalThis as unknown as Codecs;
const decoder = codecs.TextDecoder ? new codecs.TextDecoder() : undefined;
const encoder = codecs.TextEncoder ? new codecs.TextEncoder() : undefined;

/** UTF-8 bytes → string with the runtime's native decoder. */
export function bytesToText(bytes: Uint8Array): string {
  return decoder ? decoder.decode(bytes) : decodeUtf8(bytes);
}

/** string → UTF-8 bytes with the runtime's native encoder. */
export function textToBytes(text: string): Uint8Array<ArrayBuffer> {
  return encoder ? encoder.encode(text) : encodeUtf8(text);
}

/**
 * Writes an ASCII string into `into` at `at` (which has room for it) and returns the offset after it. The
 * native encoder copies it in bulk; a string of ASCII is its own UTF-8.
 */
export function asciiInto(text: string, into: Uint8Array, at: number): number {
  if (encoder) return at + encoder.encodeInto(text, into.subarray(at)).written;
  for (let i = 0; i < text.length; i++) into[at + i] = text.charCodeAt(i);
  return at + text.length;
}
