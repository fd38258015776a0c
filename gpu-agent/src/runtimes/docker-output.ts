import type Docker from 'dockerode';
import type { OutputFollower, OutputSink, OutputWriter } from './types.js';

/**
 * Follows a container's stdout and stderr from its start (Docker's multiplexed log stream: frames of an
 * 8-byte header, stream 1 or 2 and a big-endian length, then the bytes) into `sink`, until stopped or the
 * container goes. The engine's own copy is bounded by the log options the container was created with.
 */
export async function followContainerOutput(
  container: Docker.Container,
  sink: OutputSink,
): Promise<OutputFollower> {
  const stream = (await container.logs({
    follow: true,
    stdout: true,
    stderr: true,
  })) as NodeJS.ReadableStream & {
    destroy?: () => void;
  };
  const writers: Record<number, OutputWriter> = { 1: sink.writer('stdout'), 2: sink.writer('stderr') };
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      writers[pending[0] === 2 ? 2 : 1]?.write(pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
    }
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    writers[1]?.end();
    writers[2]?.end();
  };
  stream.on('end', end);
  stream.on('error', end);
  return {
    stop() {
      end();
      stream.destroy?.();
    },
  };
}
