import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

// The control plane's 415 lists these (control-plane/src/routes/models-versions.test.ts pins its message).
const MiB = 1024 * 1024;
const ENDINGS = '.tar.gz .joblib .keras .onnx .pkl .pth .tgz .zip .pt .h5 .pb';
const model = { id: 'mdl_00000000000000000000000001', name: 'big', latestVersion: 3, aliases: [] };
const version = (status: string) => ({
  id: 'mdv_00000000000000000000000003',
  modelId: model.id,
  version: 3,
  status,
  sizeBytes: 12,
  sha256: 'ab'.repeat(32),
});

/** The checkpoint a first push left: under the key the CLI derives from the file and the model. */
async function leaveCheckpoint(api: { url: string; configDir: string }, file: string, extra: object) {
  const info = await stat(file);
  const key = createHash('sha256')
    .update(JSON.stringify([api.url, model.id, file, info.size, info.mtimeMs]))
    .digest('hex')
    .slice(0, 32);
  await mkdir(join(api.configDir, 'uploads'), { recursive: true });
  await writeFile(
    join(api.configDir, 'uploads', `${key}.json`),
    JSON.stringify({ modelId: model.id, version: 3, partSize: 5 * MiB, partCount: 1, size: 12, ...extra }),
  );
}

/**
 * A fake control plane and a file `net.pt` whose first push left a checkpoint (with `extra` in it), made
 * before the describe's tests and closed after them.
 */
function useCutOffPush(extra: object) {
  const world = {} as { api: Awaited<ReturnType<typeof fakeApi>>; file: string };
  beforeAll(async () => {
    world.api = await fakeApi();
    world.file = join(world.api.configDir, 'net.pt');
    await writeFile(world.file, 'twelve bytes');
    await leaveCheckpoint(world.api, world.file, extra);
  });
  afterAll(() => world.api.close());
  return world;
}

describe('meridian models push after a push cut off while the server verified the file', () => {
  const world = useCutOffPush({});

  it('shows the version the server completed instead of uploading the file again as another version', async () => {
    world.api.answer({
      'GET /v1/models': { items: [model], nextCursor: null },
      'GET /v1/models/mdl_00000000000000000000000001/versions/3': version('ready'),
      'POST /v1/models/mdl_00000000000000000000000001/versions': version('ready'),
    });
    const pushed = await world.api.run(['models', 'push', world.file, '--name', 'big']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(world.api.received.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      'GET /v1/models',
      'GET /v1/models/mdl_00000000000000000000000001/versions/3',
    ]);
    expect(pushed.stdout).toBe(
      `Pushed big version 3 already (12 bytes, sha256 ${'ab'.repeat(32)}): its upload completed after the last push stopped\n`,
    );
    // The checkpoint is gone: a later push of this file makes a new version, as asked.
    expect(await readdir(join(world.api.configDir, 'uploads'))).toEqual([]);
  });
});

describe('meridian models push after its upload went and its number went to another upload', () => {
  const world = useCutOffPush({ versionId: 'mdv_00000000000000000000000003' });

  it("uploads the file as a new version rather than into the other upload's parts", async () => {
    const other = { ...version('uploading'), id: 'mdv_00000000000000000000000009' };
    world.api.answer({
      'GET /v1/models': { items: [model], nextCursor: null },
      'GET /v1/models/mdl_00000000000000000000000001/versions/3': other,
      'POST /v1/models/mdl_00000000000000000000000001/versions': { ...version('ready'), version: 4 },
    });
    const pushed = await world.api.run(['models', 'push', world.file, '--name', 'big']);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).not.toContain('Resuming');
    expect(world.api.received.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([
      'GET /v1/models',
      'GET /v1/models/mdl_00000000000000000000000001/versions/3',
      'POST /v1/models/mdl_00000000000000000000000001/versions',
    ]);
    expect(pushed.stdout).toBe(`Pushed big version 4 (12 bytes, sha256 ${'ab'.repeat(32)})\n`);
    expect(await readdir(join(world.api.configDir, 'uploads'))).toEqual([]);
  });
});

describe('meridian models push with part settings it cannot use', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let file = '';
  beforeAll(async () => {
    api = await fakeApi();
    file = join(api.configDir, 'net.pt');
    await writeFile(file, 'twelve bytes');
  });
  afterAll(() => api.close());

  it.each([
    [['--concurrency', 'abc'], '--concurrency wants a whole number from 1 to 16, not abc'],
    [['--concurrency', '0'], '--concurrency wants a whole number from 1 to 16, not 0'],
    [['--part-size', '1'], '--part-size wants a whole number from 5 to 5,120, not 1'],
    [['--part-size', 'big'], '--part-size wants a whole number from 5 to 5,120, not big'],
  ])('refuses %j (exit 2) before anything is sent', async (flags, message) => {
    api.answer({});
    const refused = await api.run(['models', 'push', file, '--name', 'big', ...flags]);
    expect([refused.code, refused.stderr]).toEqual([2, `meridian: ${message}\n`]);
    expect(api.received).toEqual([]);
  });

  it.each(['x.json', 'weights.bin', 'model'])(
    "refuses %s (exit 1) in the server's words before a model is made or a byte sent",
    async (name) => {
      const path = join(api.configDir, name);
      await writeFile(path, '{"weights": [1, 2, 3]}');
      api.answer({});
      const refused = await api.run(['models', 'push', path, '--name', 'big']);
      expect([refused.code, refused.stderr]).toEqual([
        1,
        `meridian: Unknown model format for "${name}"; supported endings: ${ENDINGS}\n`,
      ]);
      expect(api.received).toEqual([]);
    },
  );

  it('says a folder is a folder, not a missing file', async () => {
    api.answer({});
    const refused = await api.run(['models', 'push', api.configDir, '--name', 'big']);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `meridian: ${api.configDir} is a folder: give the model file\n`,
    ]);
    expect(api.received).toEqual([]);
  });
});
