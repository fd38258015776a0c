import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError } from './context.js';

/**
 * Saves what `url` answers at `path`, streamed: a batch job's output may be larger than this machine's memory.
 * The bytes go to `<path>.part` first (only its owner may read it: predictions are the tenant's data), which
 * becomes `path` once complete, so a download cut short leaves no file that looks whole.
 */
export async function saveUrl(url: string, path: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new CliError(`Downloading ${path} answered ${res.status}`);
  }
  const part = `${path}.part`;
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.byteLength;
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body), counted, createWriteStream(part, { mode: 0o600 }));
    await rename(part, path);
  } catch (err) {
    await rm(part, { force: true });
    const reason = err instanceof Error ? err.message : String(err);
    throw new CliError(`Downloading ${path} stopped after ${bytes} bytes (${reason}); run it again`);
  }
}
