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
