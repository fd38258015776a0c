import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveUrl } from './download.js';

const MiB = 1024 * 1024;

describe('saveUrl', () => {
  let dir: string;
  let url: string;
  /** What the file server does with the next request. */
  let serve: (res: ServerResponse) => void = () => {};
  const server = createServer((_req, res) => serve(res));
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-download-'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/output.jsonl`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the bytes as they arrive, not once all are in memory, and only its owner may read the file', async () => {
    const path = join(dir, 'streamed.jsonl');
    const first = Buffer.alloc(4 * MiB, 'a');
    const last = Buffer.from('the end\n');
    let finish: () => void = () => {};
    serve = (res) => {
      res.writeHead(200, { 'content-type': 'application/jsonl' });
      res.write(first);
      finish = () => res.end(last);
    };
    const saving = saveUrl(url, path);
    // The first 4 MiB reach the disk while the answer is still open: a buffered download would write nothing yet.
    await expect
      .poll(async () => (await stat(`${path}.part`).catch(() => undefined))?.size)
      .toBe(first.length);
    expect(existsSync(path)).toBe(false);
    finish();
    await saving;
    expect(Buffer.compare(await readFile(path), Buffer.concat([first, last]))).toBe(0);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.part`)).toBe(false);
  });

  it('leaves no file when the answer is cut short, and says how far it got', async () => {
    const path = join(dir, 'cut.jsonl');
    serve = (res) => {
      res.writeHead(200, { 'content-length': String(2 * MiB) });
      res.write(Buffer.alloc(MiB, 'b'), () => res.destroy());
    };
    await expect(saveUrl(url, path)).rejects.toThrow(
      /Downloading .*cut\.jsonl stopped after \d+ bytes .*run it again/,
    );
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.part`)).toBe(false);
  });

  it('refuses an answer that is not 2xx, writing nothing', async () => {
    const path = join(dir, 'expired.jsonl');
    serve = (res) => res.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>');
    await expect(saveUrl(url, path)).rejects.toThrow(/Downloading .*expired\.jsonl answered 403/);
    expect(existsSync(path)).toBe(false);
  });
});
