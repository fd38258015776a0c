import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

describe('meridian batch create', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  const input = join(tmpdir(), `cli-batch-${process.pid}.jsonl`);
  beforeAll(async () => {
    api = await fakeApi();
    await writeFile(
      input,
      '{"custom_id":"a","method":"POST","url":"/v1/deployments/ocr/predict","body":{}}\n',
    );
  });
  afterAll(() => api.close());

  // The input may be gigabytes: a flag the API would refuse must not cost its upload first.
  it.each([
    [['--window', '24'], /--window wants a duration such as 24h, 90m or 7d, from 1m to 7d, not 24/],
    [['--window', '8d'], /--window wants a duration .* not 8d/],
    [['--concurrency', '0'], /--concurrency wants a whole number from 1 to 32, not 0/],
    [['--concurrency', '33'], /--concurrency wants a whole number from 1 to 32, not 33/],
  ])('%j exits 2 naming the flag, before the file is uploaded', async (flags, message) => {
    api.answer({
      'GET /v1/deployments': { items: [{ id: 'dep_1', name: 'ocr' }], nextCursor: null },
      'POST /v1/files': { status: 201, body: { id: 'file_1', bytes: 80 } },
      'POST /v1/batch-jobs': { status: 400, body: { error: { code: 'invalid_request', message: 'no' } } },
    });
    const { code, stderr } = await api.run(['batch', 'create', input, '-d', 'ocr', ...flags]);
    expect(stderr).toMatch(message);
    expect(code).toBe(2);
    expect(api.received.filter((r) => r.method === 'POST')).toEqual([]);
  });
});

describe('meridian batch get', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  it("prints why a waiting job waits: its deployment's start problem", async () => {
    const reason =
      "the deployment 'ocr' cannot be placed: no online host with 1× T4 free (none has any T4); the job fails at 2026-12-07T07:30:00.000Z if no host can take it by then";
    api.answer({
      'GET /v1/batch-jobs/batch_1': {
        id: 'batch_1',
        status: 'running',
        pausedReason: 'waiting_for_replica',
        statusReason: reason,
        deployment: { id: 'dep_1', name: 'ocr' },
        counts: { total: 2, completed: 0, failed: 0 },
        costUsd: '0.000',
        error: null,
      },
    });
    const { code, stdout } = await api.run(['batch', 'get', 'batch_1']);
    expect(code).toBe(0);
    expect(stdout).toContain(`batch_1 running (paused: waiting_for_replica) on ocr: 0/2 answered`);
    expect(stdout).toContain(`\n  ${reason}`);
  });
});
