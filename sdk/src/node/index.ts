import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseNpy } from '../npy.js';
import type { Tensor } from '../tensors.js';
import type { UploadSource } from '../uploads.js';

/** An UploadSource over a file on disk: each part is read when it is sent, never the whole file. */
export async function fileSource(path: string, name = basename(path)): Promise<UploadSource> {
  const { size } = await stat(path);
  return {
    name,
    size,
    async read(start, end) {
      const handle = await open(path, 'r');
      try {
        const buffer = new Uint8Array(end - start);
        let done = 0;
        while (done < buffer.byteLength) {
          const { bytesRead } = await handle.read(buffer, done, buffer.byteLength - done, start + done);
          if (bytesRead === 0)
            throw new Error(`${path} changed while it was being uploaded (shorter than ${size} bytes)`);
          done += bytesRead;
        }
        return buffer;
      } finally {
        await handle.close();
      }
    },
  };
}

/** A NumPy .npy file as a tensor named `name`. */
export async function readNpyFile(path: string, name: string): Promise<Tensor> {
  return parseNpy(new Uint8Array(await readFile(path)), name);
}
