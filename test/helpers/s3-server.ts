import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { S3ObjectStore } from '../../control-plane/src/storage/s3-store.js';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../../scripts/s3-server.sh');
// Swift starts in 20–35 s on CI's two cores beside the other test run, and took over 60 s on a busier machine.
const START_TIMEOUT_MS = 120_000;

export interface RunningS3 {
  /** The control plane's environment for this server and a fresh bucket (created here). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A real S3 server (Swift + s3api, scripts/s3-server.sh) on 127.0.0.1 and free ports, with one new bucket. */
export async function startS3(options: { timeoutMs?: number } = {}): Promise<RunningS3> {
  const stateDir = await mkdtemp(join(tmpdir(), 'meridian-e2e-s3-'));
  const { stdout } = await run(script, ['start', stateDir, 'auto'], {
    timeout: options.timeoutMs ?? START_TIMEOUT_MS,
  }).catch(async (err: unknown) => {
    // A start cut off by the timeout leaves its servers running (each in its own process group).
    await run(script, ['stop', stateDir]).catch(() => {});
    throw err;
  });
  const endpoint = /S3_ENDPOINT=(\S+)/.exec(stdout)?.[1];
  if (!endpoint) throw new Error(`s3-server.sh printed no endpoint: ${stdout}`);
  // The credentials s3-server.sh configures in Swift's tempauth.
  const credentials = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };
  const bucket = `e2e-${randomBytes(4).toString('hex')}`;
  const store = new S3ObjectStore({
    endpoint,
    region: 'us-east-1',
    bucket,
    credentials,
    forcePathStyle: true,
  });
  await store.ensureBucket();
  store.close();
  return {
    env: {
      MERIDIAN_S3_ENDPOINT: endpoint,
      MERIDIAN_S3_BUCKET: bucket,
      MERIDIAN_S3_ACCESS_KEY_ID: credentials.accessKeyId,
      MERIDIAN_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      MERIDIAN_S3_FORCE_PATH_STYLE: 'true',
    },
    stop: async () => {
      await run(script, ['stop', stateDir]);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
