import { createHash, getRandomValues } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { sampleRss } from './helpers/rss.js';

const FILE_BYTES = 200 * 1024 * 1024;
const MAX_RSS_GROWTH = 64 * 1024 * 1024;
/** The files route's limit here: far above what storage buffers, so a body held in memory would show. */
const MAX_INPUT_FILE_BYTES = 160 * 1024 * 1024;

/** The pid of the process whose environment names `dataDir`: the control plane this test started. */
function pidServing(dataDir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`MERIDIAN_DATA_DIR=${dataDir}`)) return Number(entry);
    } catch {
      // a process that exited meanwhile, or one we may not read
    }
  }
  throw new Error(`no process serves ${dataDir}`);
}

/** `total` random bytes as a stream made while it is read, hashing them on the way. */
function randomBody(total: number, hash: ReturnType<typeof createHash>): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const chunk = getRandomValues(new Uint8Array(Math.min(65_536, total - sent)));
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

describe('uploads through the control plane process', () => {
  let dataDir: string;
  let cp: RunningControlPlane;
  let token: string;
  let pid: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meridian-upload-mem-'));
    cp = await startControlPlane({
      dataDir,
      env: { MERIDIAN_LOG_LEVEL: 'warn', MERIDIAN_MAX_FILE_BYTES: String(MAX_INPUT_FILE_BYTES) },
    });
    pid = pidServing(dataDir);
    const registered = await fetch(`${cp.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'uploader@example.com', password: 'correct horse battery', name: 'up' }),
    });
    token = ((await registered.json()) as { accessToken: string }).accessToken;
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const upload = (modelId: string, body: ReadableStream<Uint8Array> | string) =>
    fetch(`${cp.url}/v1/models/${modelId}/versions?filename=weights.pt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);

  it('streams a 200 MB model to storage while its RSS grows by far less than the file', async () => {
    const created = await fetch(`${cp.url}/v1/models`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'big-pytorch' }),
    });
    const { id } = (await created.json()) as { id: string };
    // Warm up the route, the store and the JIT so the baseline is the steady state, not a cold start.
    expect((await upload(id, 'warm-up weights')).status).toBe(201);

    const rss = sampleRss(pid);
    const hash = createHash('sha256');
    const started = performance.now();
    const res = await upload(id, randomBody(FILE_BYTES, hash));
    const seconds = (performance.now() - started) / 1000;
    const { baseline, peak, growth } = rss.stop();

    const version = (await res.json()) as {
      status: string;
      version: number;
      sizeBytes: number;
      sha256: string;
    };
    expect(res.status).toBe(201);
    expect(version).toMatchObject({
      status: 'ready',
      version: 2,
      sizeBytes: FILE_BYTES,
      sha256: hash.digest('hex'),
    });
    console.log(
      `200 MB upload: control-plane RSS ${(baseline / 2 ** 20).toFixed(1)} MiB → peak ${(peak / 2 ** 20).toFixed(1)} MiB ` +
        `(+${(growth / 2 ** 20).toFixed(1)} MiB) in ${seconds.toFixed(2)} s (${(FILE_BYTES / 2 ** 20 / seconds).toFixed(0)} MiB/s)`,
    );
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });
  it('answers 413 to an input file streaming past its limit, with RSS growing by far less than it read', async () => {
    const uploadFile = (body: ReadableStream<Uint8Array> | string) =>
      fetch(`${cp.url}/v1/files?filename=lines.jsonl`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body,
        duplex: 'half',
      } as RequestInit);
    // Warm up the route and the store, as above.
    expect((await uploadFile('{"custom_id":"a","inputs":[]}\n')).status).toBe(201);
    const rss = sampleRss(pid);
    let sent = 0;
    const total = MAX_INPUT_FILE_BYTES * 2;
    // Chunked (no length), so the limit can only be found while the body streams.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        sent += 1024 * 1024;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
      },
    });
    const res = await uploadFile(body).catch((err: unknown) => ({ status: 0, error: err }));
    const { growth } = rss.stop();
    console.log(
      `input file over its ${MAX_INPUT_FILE_BYTES / 2 ** 20} MiB limit: 413 after ${sent / 2 ** 20} MiB sent; ` +
        `control-plane RSS +${(growth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(total);
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
    const files = await fetch(`${cp.url}/v1/files?limit=200`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await files.json()) as { items: unknown[] }).items).toHaveLength(1);
  });
});
