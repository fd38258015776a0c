import { readFileSync } from 'node:fs';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../../testing/models.js';
import { createTestApp, readReply, type Session } from '../../../testing/test-app.js';
import { batchJobs, batchResults, batchShards } from '../../db/schema.js';
import { createLogger } from '../../lib/logger.js';
import { REAL_MODELS } from '../../onnx/test-models.js';
import { batchDepsFor } from './compose.js';
import { validateJob } from './validate.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const tensor = (shape: number[]) => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  data: Array.from({ length: shape.reduce((n, d) => n * d, 1) }, () => 0.25),
});
const line = (id: string, body: unknown = { inputs: [tensor([1, 3, 48, 8])] }) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v2/models/cls/infer', body });

describe('batch validation', () => {
  let t: TestApp;
  let owner: Session;
  const validated = async (text: string, cancelMeanwhile = false) => {
    const up = await readReply(
      await t.app.request('/v1/files?filename=in.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: text,
      }),
    );
    const created = await t.client.call('POST', '/v1/batch-jobs', {
      token: owner.accessToken,
      body: { deployment: 'cls', inputFileId: up.json.id },
    });
    expect(created.status).toBe(201);
    const [row] = await t.db.select().from(batchJobs).where(eq(batchJobs.id, created.json.id));
    if (!row) throw new Error('no job row');
    // A cancel that lands while the runner reads the file: the runner still holds the row it read before.
    if (cancelMeanwhile)
      expect(
        (await t.client.call('POST', `/v1/batch-jobs/${row.id}/cancel`, { token: owner.accessToken })).status,
      ).toBe(200);
    await validateJob(batchDepsFor({ ...t, logger: createLogger('silent') }), row);
    const [after] = await t.db.select().from(batchJobs).where(eq(batchJobs.id, row.id));
    const errors = await t.db
      .select()
      .from(batchResults)
      .where(eq(batchResults.jobId, row.id))
      .orderBy(asc(batchResults.line));
    const shards = await t.db.select().from(batchShards).where(eq(batchShards.jobId, row.id));
    return { job: after, errors: errors.map((e) => JSON.parse(e.text)), shards };
  };

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const model = await newModel(t.app, owner.accessToken, 'cls');
    const up = await uploadVersion(
      t.app,
      owner.accessToken,
      model,
      'cls.onnx',
      readFileSync(REAL_MODELS.paddleCls),
    );
    expect(up.status).toBe(201);
    const dep = await t.client.call('POST', '/v1/deployments', {
      token: owner.accessToken,
      body: { name: 'cls', model, version: 1, gpuType: 'cpu' },
    });
    expect(dep.status).toBe(201);
  });
  afterAll(() => t.cleanup());

  it('sends the faulty lines to the error file with their line number and custom_id, and runs the rest', async () => {
    const lines = [
      line('a'),
      '{"custom_id": "b", "method": "POST", ',
      line('c', { inputs: [{ ...tensor([1, 3, 48, 8]), name: 'image' }] }),
      '',
      line('d', { inputs: [tensor([1, 4, 48, 8])] }),
      line('e'),
    ];
    const { job, errors, shards } = await validated(lines.join('\n'));
    expect(job).toMatchObject({ status: 'running', total: 5, failed: 3 });
    expect(errors.map((e) => [e.line, e.custom_id, e.error.code])).toEqual([
      [2, null, 'invalid_json'],
      [3, 'c', 'invalid_input'],
      [5, 'd', 'invalid_input'],
    ]);
    expect(errors[1].error.message).toContain("unknown input 'image'");
    expect(errors[2].error.message).toContain('has shape [1,4,48,8]');
    expect(shards).toHaveLength(1);
  });

  it('fails a file that is not JSONL with its first faults by line number', async () => {
    const { job, shards } = await validated('id,x\n1,2\n');
    expect(job).toMatchObject({ status: 'failed', error: { code: 'no_valid_line' } });
    expect(job?.error?.faults?.map((f) => f.line)).toEqual([1, 2]);
    expect(shards).toEqual([]);
  });

  it('fails a file that repeats a custom_id, naming both lines', async () => {
    const { job } = await validated([line('a'), line('b'), line('a')].join('\n'));
    expect(job).toMatchObject({ status: 'failed', error: { code: 'duplicate_custom_id' } });
    expect(job?.error?.faults).toEqual([{ line: 3, message: "custom_id 'a' repeats line 1" }]);
  });

  it('cuts a long file into shards of 100 valid lines', async () => {
    const { job, shards } = await validated(Array.from({ length: 250 }, (_, i) => line(`r${i}`)).join('\n'));
    expect(job).toMatchObject({ status: 'running', total: 250, failed: 0 });
    expect(shards.map((s) => s.firstLine).sort((a, b) => a - b)).toEqual([1, 101, 201]);
  });

  it('keeps a cancel that lands while the file is read: the job does not start running', async () => {
    const good = await validated([line('a'), line('b')].join('\n'), true);
    expect(good.job?.status).toBe('cancelling');
    const bad = await validated('id,x\n1,2\n', true);
    expect(bad.job?.status).toBe('cancelling');
  });
});
