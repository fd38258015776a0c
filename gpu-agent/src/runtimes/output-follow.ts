import { execFile } from 'node:child_process';
import { type FileHandle, open } from 'node:fs/promises';
import { promisify } from 'node:util';
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
 * it cannot write into a pipe the agent holds): new bytes go to `writer`. Past `truncateAtBytes` the file is
 * emptied once all of it is read, or, while the workload keeps writing, the part already read is punched
 * out (its disk blocks freed), so on disk it holds about what is not read yet. Output more than
 * `maxLagBytes` ahead of the reader is skipped but for its newest quarter, with a line saying so. Stops
 * when the file is removed (the workload was) or on `stop()`.
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
  let punched = 0;
  const buffer = Buffer.alloc(CHUNK);

  // After a skip the first bytes read start mid-line: they are dropped up to the next line break.
  let midLine = false;
  const readTo = async (file: FileHandle, size: number) => {
    while (offset < size && !stopped) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(CHUNK, size - offset), offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      let bytes = buffer.subarray(0, bytesRead);
      if (midLine) {
        const end = bytes.indexOf(10);
        bytes = end < 0 ? bytes.subarray(bytes.length) : bytes.subarray(end + 1);
        midLine = end < 0;
      }
      if (bytes.length > 0) writer.write(bytes);
    }
  };

  const tick = async () => {
    const file = await open(path, 'r+').catch(() => undefined);
    if (!file) {
      stopped = true;
      writer.end();
      return;
    }
    try {
      const { size } = await file.stat();
      if (size < offset) offset = 0;
      if (size - offset > maxLag) {
        // Behind by more than the bound: the newest output is kept (a quarter of the bound), the rest skipped.
        const resume = size - Math.floor(maxLag / 4);
        writer.write(`\n[meridian] ${resume - offset} bytes of output skipped: written faster than read\n`);
        offset = resume;
        midLine = true;
        await punchHole(path, offset);
        punched = offset;
      }
      await readTo(file, size);
      if (offset >= truncateAt) {
        if ((await file.stat()).size === offset) {
          // All read and nothing new: emptied (the workload appends, so it goes on writing at 0).
          await file.truncate(0);
          offset = 0;
          punched = 0;
        } else if (offset - punched >= truncateAt) {
          // Still writing: truncating now would lose what it is writing, so the blocks already read are
          // freed instead (a hole: the file keeps its length, not its disk space).
          await punchHole(path, offset);
          punched = offset;
        }
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

/** Frees the disk blocks of the first `length` bytes (util-linux fallocate); a filesystem without holes keeps them. */
async function punchHole(path: string, length: number): Promise<void> {
  await promisify(execFile)('fallocate', [
    '--punch-hole',
    '--offset',
    '0',
    '--length',
    String(length),
    path,
  ]).catch(() => undefined);
}
