import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../control-plane/src/storage/s3-store.js';
import { WorkloadUsers } from '../gpu-agent/src/runtimes/workload-users.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { buildCli } from './helpers/cli.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { type RunningS3, startS3 } from './helpers/s3-server.js';

type Notebook = { id: string; status: string; statusReason: string | null; token: string; endpoint: string };

/**
 * A stopped notebook whose files cannot be saved, on a control plane whose object storage is the real S3
 * server of the tests with its bucket removed: its owner reads that the save failed, why, that the files
 * are still on the host, and what to do; once the bucket is back, starting it again saves them.
 */
describe('a notebook whose files cannot be saved when it stops', () => {
  let dir = '';
  let s3: RunningS3 | undefined;
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let token = '';
  let cli: Awaited<ReturnType<typeof buildCli>> | undefined;
  const call = jsonApi(() => cp?.url ?? '');
  const api = (method: string, path: string, body?: unknown) => call(token, method, path, body);
  const get = async (id: string) => (await api('GET', `/v1/notebooks/${id}`)).json as Notebook;
  const untilStatus = async (id: string, status: string) => {
    const seen = async () => {
      const nb = await get(id);
      return nb.status === status ? status : `${nb.status}: ${nb.statusReason ?? ''}`;
    };
    await expect.poll(seen, { timeout: 60_000, interval: 250 }).toBe(status);
    return get(id);
  };
  const bucketClient = () =>
    new S3Client({
      endpoint: s3?.env.MERIDIAN_S3_ENDPOINT ?? '',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: s3?.env.MERIDIAN_S3_ACCESS_KEY_ID ?? '',
        secretAccessKey: s3?.env.MERIDIAN_S3_SECRET_ACCESS_KEY ?? '',
      },
    });
  const bucket = () => s3?.env.MERIDIAN_S3_BUCKET ?? '';
  /** The keys of the saves the bucket holds of notebook `id`. */
  const savesOf = async (id: string) => {
    const store = new S3ObjectStore({
      endpoint: s3?.env.MERIDIAN_S3_ENDPOINT ?? '',
      region: 'us-east-1',
      bucket: bucket(),
      credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
      forcePathStyle: true,
    });
    const keys: string[] = [];
    for await (const o of store.list('orgs/'))
      if (o.key.includes(`/notebooks/${id}/volumes/`)) keys.push(o.key);
    store.close();
    return keys;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notebooks-save-e2e-'));
    s3 = await startS3();
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        ...s3.env,
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '60',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
    });
    const reg = await call('', 'POST', '/v1/auth/register', {
      email: 'saves@example.com',
      password: 'correct horse battery',
      name: 'saves',
    });
    token = reg.json.accessToken;
    cli = await buildCli(() => ({
      HOME: dir,
      MERIDIAN_CONFIG_DIR: join(dir, 'cli'),
      MERIDIAN_API_URL: cp?.url ?? '',
      MERIDIAN_TOKEN: token,
    }));
  }, 240_000);

  afterAll(async () => {
    await cli?.remove();
    await agent?.stop();
    await cp?.stop();
    await s3?.stop();
    const volumes = await readdir(join(dir, 'workloads', 'volumes')).catch(() => [] as string[]);
    for (const name of volumes) await new WorkloadUsers().remove(decodeURIComponent(name));
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('says the save failed, why, and that the files are on the host; a start once storage is back saves them', async () => {
    const created = await api('POST', '/v1/notebooks', { name: 'unsaved', gpuType: 'cpu' });
    expect(created.status, created.text).toBe(201);
    const running = await untilStatus(created.json.id, 'running');
    const id = running.id;
    const put = await fetch(`${running.endpoint}api/contents/work.txt`, {
      method: 'PUT',
      headers: { authorization: `token ${running.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'an afternoon of work' }),
    });
    expect(put.status).toBe(201);

    // The bucket goes (empty: nothing was saved yet), so every save the control plane takes fails.
    const client = bucketClient();
    await client.send(new DeleteBucketCommand({ Bucket: bucket() }));
    expect((await api('POST', `/v1/notebooks/${id}/stop`)).status).toBe(200);
    await untilStatus(id, 'stopped');
    // The agent tries 4 times (1 + 2 + 4 s apart) before it gives up and says so.
    await expect
      .poll(async () => (await get(id)).statusReason, { timeout: 60_000, interval: 500 })
      .toMatch(/^stopped, but its files could not be saved/);
    const reason = (await get(id)).statusReason ?? '';
    console.info(`what the owner reads: ${reason}`);
    expect(reason).toContain('the platform’s file storage did not take them (tried 4 times)');
    expect(reason).toContain('They are still on the host that ran it');
    expect(reason).toContain('start the notebook again to retry');
    // Nothing of the host or the storage behind it: no path, no bucket, no endpoint.
    expect(reason).not.toContain(dir);
    expect(reason).not.toContain(bucket());
    expect(reason).not.toMatch(/\/tmp|127\.0\.0\.1|NoSuchBucket/);
    // The list shows it as GET does, and the files are on the host indeed.
    const listed = (await api('GET', '/v1/notebooks')).json.items as Notebook[];
    expect(listed.find((n) => n.id === id)?.statusReason).toBe(reason);
    // `meridian notebooks get` prints the same line.
    const got = await cli?.run(['notebooks', 'get', 'unsaved']);
    expect(got?.code, got?.stderr).toBe(0);
    expect(got?.stdout.trim()).toBe(`unsaved (${id}): stopped (${reason})`);
    const onHost = join(dir, 'workloads', 'volumes', `meridian-notebook-${id}`, 'work.txt');
    expect(readFileSync(onHost, 'utf8')).toBe('an afternoon of work');

    // Storage is back: a start on that host saves the files before it starts, and opens them as they were.
    await client.send(new CreateBucketCommand({ Bucket: bucket() }));
    client.destroy();
    expect((await api('POST', `/v1/notebooks/${id}/start`)).status).toBe(200);
    const again = await untilStatus(id, 'running');
    expect(await savesOf(id)).toHaveLength(1);
    const file = await fetch(`${again.endpoint}api/contents/work.txt?content=1`, {
      headers: { authorization: `token ${again.token}` },
    });
    expect(((await file.json()) as { content: string }).content).toBe('an afternoon of work');

    // And the next stop saves as usual, with nothing said of a failure any more.
    expect((await api('POST', `/v1/notebooks/${id}/stop`)).status).toBe(200);
    await untilStatus(id, 'stopped');
    await expect.poll(() => savesOf(id).then((k) => k.length === 1 && k), { timeout: 30_000 }).toBeTruthy();
    expect((await get(id)).statusReason).not.toMatch(/could not be saved/);
    expect(existsSync(onHost)).toBe(true);
  }, 240_000);
});
