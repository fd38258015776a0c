import { open } from 'node:fs/promises';
import type { OutputFollower, OutputWriter } from './types.js';

export interface FollowFileOptions {
  /** How often the file is read. Default 100 ms. */
  intervalMs?: number;
  /** Once everything up to here is read, the file is emptied (the workload appends, so it writes at 0 again). */
  truncateAtBytes?: number;
  /** Unread output past this is skipped (a line says how much): the agent never falls behind without bound. */
  maxLagBytes?: number;
}

const CHUNK = 256 * 1024;

/**
 * Follows a file a detached workload appends its stdout and stderr to (O_APPEND: it outlives the agent, so
 * it cannot write into a pipe the agent holds): new bytes go to `writer`; once read, the file is emptied
 * whenever it has passed `truncateAtBytes`, so it stays bounded on disk. Output written between the last
 * read and the truncation is lost (microseconds: only a flood loses a few lines). Stops when the file is
 * removed (the workload was) or on `stop()`.
 */
export function followFile(
  path: string,
  writer: OutputWriter,
  options: FollowFileOptions = {},
): OutputFollower {
  const interval = options.intervalMs ?? 100;
  const truncateAt = options.truncateAtBytes ?? 1024 * 1024;
  const maxLag = options.maxLagBytes ?? 8 * 1024 * 1024;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let offset = 0;
  const buffer = Buffer.alloc(CHUNK);

  const tick = async () => {
    const file = await open(path, 'r+').catch(() => undefined);
    if (!file) {
      stopped = true;
      writer.end();
      return;
    }
    try {
      let { size } = await file.stat();
      if (size < offset) offset = 0;
      if (size - offset > maxLag) {
        writer.write(`\n[meridian] ${size - offset} bytes of output skipped: written faster than read\n`);
        offset = size;
      }
      while (offset < size && !stopped) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(CHUNK, size - offset), offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        writer.write(buffer.subarray(0, bytesRead));
        if (offset >= size) size = (await file.stat()).size;
      }
      if (offset >= truncateAt && offset >= size) {
        await file.truncate(0);
        offset = 0;
      }
    } finally {
      await file.close();
    }
  };

  const loop = () => {
    if (stopped) return;
    tick().then(
      () => {
        if (!stopped) timer = setTimeout(loop, interval).unref();
      },
      () => {
        if (!stopped) timer = setTimeout(loop, interval).unref();
      },
    );
  };
  loop();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      writer.end();
    },
  };
}
