import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeObjectStoreContract } from './contract.js';
import { S3ObjectStore, type S3StoreOptions } from './s3-store.js';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../../../scripts/s3-server.sh');
// The credentials scripts/s3-server.sh configures in Swift's tempauth.
const credentials = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };

/** A real S3 server (Swift + s3api) on 127.0.0.1 and free ports, for this file only. */
let stateDir = '';
let endpoint = '';
beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'meridian-s3-'));
  const started = performance.now();
  // Swift starts in 20–35 s on CI's two cores beside the other test run; a busier machine took over 60 s.
  const { stdout } = await run(script, ['start', stateDir, 'auto'], { timeout: 120_000 });
  endpoint = /S3_ENDPOINT=(\S+)/.exec(stdout)?.[1] ?? '';
  if (!endpoint) throw new Error(`s3-server.sh printed no endpoint: ${stdout}`);
  console.info(`swift s3api ready at ${endpoint} in ${Math.round(performance.now() - started)} ms`);
}, 120_000);
afterAll(async () => {
  if (stateDir) {
    await run(script, ['stop', stateDir]);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

const options = (overrides: Partial<S3StoreOptions> = {}): S3StoreOptions => ({
  endpoint,
  region: 'us-east-1',
  bucket: `meridian-${randomBytes(4).toString('hex')}`,
  credentials,
  forcePathStyle: true,
  ...overrides,
});

describeObjectStoreContract('S3ObjectStore on Swift s3api', async () => {
  // A small page size makes the 30-object listing span several ListObjectsV2 pages.
  const store = new S3ObjectStore(options({ listPageSize: 7 }));
  await store.ensureBucket();
  return { store, close: async () => store.close() };
});

describe('S3ObjectStore credentials', () => {
  let bucket = '';
  let good: S3ObjectStore;
  beforeAll(async () => {
    bucket = options().bucket;
    good = new S3ObjectStore(options({ bucket }));
    await good.ensureBucket();
    await good.put('orgs/o/existing', Readable.from([Buffer.from('private')]));
  });
  afterAll(() => good.close());

  it('fails put and get with a 403 when the secret is wrong, and never echoes the secret', async () => {
    const secretAccessKey = 'wrong-secret-0123456789';
    const wrong = new S3ObjectStore(options({ bucket, credentials: { ...credentials, secretAccessKey } }));
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (err: unknown) => err,
      );
    for (const err of [
      await failure(wrong.put('orgs/o/x', Readable.from([Buffer.from('x')]))),
      await failure(wrong.get('orgs/o/existing')),
    ]) {
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ $metadata: { httpStatusCode: 403 } });
      expect(String(err)).not.toContain(secretAccessKey);
    }
    expect(await good.head('orgs/o/x')).toBeUndefined();
    wrong.close();
  });

  it('answers 403 to a presigned URL made with a wrong secret', async () => {
    const wrong = new S3ObjectStore(
      options({ bucket, credentials: { ...credentials, secretAccessKey: 'nope' } }),
    );
    const res = await fetch(await wrong.presignGet('orgs/o/existing', 60));
    expect(res.status).toBe(403);
    await res.body?.cancel();
    wrong.close();
  });
});
