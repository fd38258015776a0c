import { type FileHandle, open } from 'node:fs/promises';

/** What an ONNX file says about itself outside its graph. */
export interface OnnxModelHeader {
  irVersion: number | null;
  /** `domain` is '' for the default ONNX operator set. */
  opsetImports: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
}

/** The file is not a well-formed ModelProto; `message` says where it broke. */
export class OnnxHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxHeaderError';
  }
}

// ModelProto field numbers (onnx/onnx.proto3): the few read here; every other field, the graph (7) and its
// weights included, is skipped by seeking past it.
const IR_VERSION = 1;
const PRODUCER_NAME = 2;
const PRODUCER_VERSION = 3;
const OPSET_IMPORT = 8;
/** Small fields are read whole; anything longer than this is skipped rather than read. */
const MAX_READ_BYTES = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** Sequential reads over a file through one small buffer, with cheap forward seeks. */
class FileCursor {
  private buffer = Buffer.alloc(CHUNK_BYTES);
  private bufferStart = 0;
  private bufferLength = 0;
  position = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  get remaining(): number {
    return this.size - this.position;
  }

  private async fill(): Promise<void> {
    const { bytesRead } = await this.handle.read(this.buffer, 0, CHUNK_BYTES, this.position);
    this.bufferStart = this.position;
    this.bufferLength = bytesRead;
  }

  async byte(): Promise<number> {
    const offset = this.position - this.bufferStart;
    if (offset < 0 || offset >= this.bufferLength) {
      await this.fill();
      if (this.bufferLength === 0) throw new OnnxHeaderError('the file ends in the middle of a field');
    }
    const value = this.buffer[this.position - this.bufferStart];
    if (value === undefined) throw new OnnxHeaderError('the file ends in the middle of a field');
    this.position += 1;
    return value;
  }

  async bytes(length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(out, 0, length, this.position);
    if (bytesRead !== length) throw new OnnxHeaderError('the file ends in the middle of a field');
    this.position += length;
    return out;
  }

  skip(length: number): void {
    this.position += length;
  }
}

/** A base-128 varint; lengths and versions fit in a double well below 2^53. */
async function readVarint(next: () => Promise<number>): Promise<number> {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = await next();
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return value;
    scale *= 128;
  }
  throw new OnnxHeaderError('a varint runs longer than 10 bytes');
}

/** Decodes an OperatorSetIdProto (1: domain, 2: version) held in memory. */
async function decodeOpset(bytes: Buffer): Promise<{ domain: string; version: number }> {
  let position = 0;
  const next = async () => {
    const value = bytes[position];
    if (value === undefined) throw new OnnxHeaderError('an opset_import entry is cut short');
    position += 1;
    return value;
  };
  let domain = '';
  let version = 0;
  while (position < bytes.length) {
    const key = await readVarint(next);
    const [field, wireType] = [Math.floor(key / 8), key % 8];
    if (wireType === 0) {
      const value = await readVarint(next);
      if (field === 2) version = value;
    } else if (wireType === 2) {
      const length = await readVarint(next);
      if (position + length > bytes.length) throw new OnnxHeaderError('an opset_import entry is cut short');
      if (field === 1) domain = bytes.subarray(position, position + length).toString('utf8');
      position += length;
    } else if (wireType === 1 || wireType === 5) {
      position += wireType === 1 ? 8 : 4;
    } else {
      throw new OnnxHeaderError(`an opset_import entry has wire type ${wireType}`);
    }
  }
  return { domain, version };
}

/**
 * Reads a ModelProto's top-level fields by walking its protobuf framing over the file: a few small reads
 * and seeks, so a multi-gigabyte model costs kilobytes of memory. Throws OnnxHeaderError when the framing
 * is broken (a truncated file, or not protobuf at all).
 */
export async function readOnnxHeader(path: string): Promise<OnnxModelHeader> {
  const handle = await open(path, 'r');
  try {
    const cursor = new FileCursor(handle, (await handle.stat()).size);
    if (cursor.size === 0) throw new OnnxHeaderError('the file is empty');
    const header: OnnxModelHeader = {
      irVersion: null,
      opsetImports: [],
      producerName: '',
      producerVersion: '',
    };
    while (cursor.remaining > 0) {
      const key = await readVarint(() => cursor.byte());
      const [field, wireType] = [Math.floor(key / 8), key % 8];
      if (field === 0) throw new OnnxHeaderError(`field number 0 at byte ${cursor.position}`);
      if (wireType === 0) {
        const value = await readVarint(() => cursor.byte());
        if (field === IR_VERSION) header.irVersion = value;
      } else if (wireType === 1 || wireType === 5) {
        const width = wireType === 1 ? 8 : 4;
        if (cursor.remaining < width) throw new OnnxHeaderError(`field ${field} is cut short`);
        cursor.skip(width);
      } else if (wireType === 2) {
        const length = await readVarint(() => cursor.byte());
        if (length > cursor.remaining) {
          throw new OnnxHeaderError(
            `field ${field} declares ${length} bytes but only ${cursor.remaining} remain: the file is truncated`,
          );
        }
        const wanted = field === OPSET_IMPORT || field === PRODUCER_NAME || field === PRODUCER_VERSION;
        if (!wanted || length > MAX_READ_BYTES) {
          cursor.skip(length);
          continue;
        }
        const bytes = await cursor.bytes(length);
        if (field === OPSET_IMPORT) header.opsetImports.push(await decodeOpset(bytes));
        else if (field === PRODUCER_NAME) header.producerName = bytes.toString('utf8');
        else header.producerVersion = bytes.toString('utf8');
      } else {
        throw new OnnxHeaderError(`wire type ${wireType} at byte ${cursor.position}: not an ONNX protobuf`);
      }
    }
    return header;
  } finally {
    await handle.close();
  }
}

/** The default-domain opset a model was exported for; null when it imports none. */
export function defaultOpset(header: OnnxModelHeader): number | null {
  const entry = header.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return entry?.version ?? null;
}
